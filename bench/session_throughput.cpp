// session-throughput [MiB] — the pure core's bulk cost: two Sessions joined in memory carry one
// stream of MiB mebibytes (default 1024) from the dialer to the listener, sealing and opening
// every record, with the receiver returning credit as it goes. No sockets: this is the ceiling the
// I/O shell can reach on one core. Prints MB/s and records per second.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "tunnel/session.hpp"

using namespace mailtun;
using namespace mailtun::tunnel;

int main(int argc, char** argv) {
  const std::size_t mebibytes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1024;
  const keys::PrivateKey office = keys::PrivateKey::generate(), vps = keys::PrivateKey::generate();
  const keys::PresharedKey psk;
  Responder responder(vps);
  responder.add_peer(office.public_key(), psk);
  TimePoint now{};
  Output a_out, b_out;
  auto initiator = Initiator::start(office, vps.public_key(), psk, Tai64n::from_system_time({}));
  Session a = Session::dial(std::move(*initiator), 0, {}, now, a_out);
  Session b = Session::accept(responder, {}, now);
  const auto pump = [&] {
    while (!a_out.to_peer.empty() || !b_out.to_peer.empty()) {
      std::vector<std::uint8_t> bytes;
      bytes.swap(a_out.to_peer);
      b.on_bytes(bytes, now, b_out);
      for (const auto& e : b_out.events) {
        if (const auto* d = std::get_if<StreamData>(&e)) b.consumed(d->id, d->data.size(), now, b_out);
      }
      b_out.events.clear();
      bytes.clear();
      bytes.swap(b_out.to_peer);
      a.on_bytes(bytes, now, a_out);
      a_out.events.clear();
    }
  };
  pump();
  const auto id = a.open_stream(OpenPayload{"lmtp", {}, {}}, now, a_out);
  if (!id) return 1;

  const std::vector<std::uint8_t> chunk(64 * 1024, 0x42);
  const std::size_t total = mebibytes << 20;
  std::size_t sent = 0;
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t records_before = a.stats().records_out;
  while (sent < total) {
    sent += a.send(*id, chunk, now, a_out);
    pump();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto records = a.stats().records_out - records_before;
  std::printf("%zu MiB in %.2f s: %.0f MB/s, %.0f records/s (AEAD: %s)\n", mebibytes, seconds,
              static_cast<double>(sent) / seconds / 1e6, static_cast<double>(records) / seconds,
#if defined(MAILTUN_AEAD_SODIUM)
              "libsodium"
#else
              "OpenSSL"
#endif
  );
  return b.stats().data_bytes_in == sent ? 0 : 1;
}
