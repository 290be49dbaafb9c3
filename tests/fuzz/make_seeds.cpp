// Writes the seed corpora in tests/fuzz/corpus/ that are binary: valid handshake messages under
// the fixed key set, every frame type, sealed records, session scripts and PROXY addresses.
// Run once after a wire format change: make_seeds tests/fuzz/corpus
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/fuzz/fixed_keys.hpp"
#include "tunnel/frame.hpp"
#include "tunnel/record.hpp"

using namespace mailtun;
using namespace mailtun::tunnel;
using ByteVector = std::vector<std::uint8_t>;

namespace {

std::filesystem::path root;

void write(const std::string& target, const std::string& name, const ByteVector& bytes) {
  std::filesystem::create_directories(root / target);
  std::ofstream(root / target / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

ByteVector cat(std::initializer_list<ByteVector> parts) {
  ByteVector out;
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

OpenPayload sample_open() {
  OpenPayload open{.service = "lmtp"};
  open.source.family = 4;
  open.source.bytes = {192, 0, 2, 1};
  open.source.port = 56324;
  open.destination.family = 4;
  open.destination.bytes = {127, 0, 0, 1};
  open.destination.port = 24;
  return open;
}

ByteVector frame(void (*encode)(ByteVector&)) {
  ByteVector out;
  encode(out);
  return out;
}

const ByteVector open_frame = frame([](ByteVector& o) { encode_open(o, 1, sample_open()); });
const ByteVector data_frame = frame([](ByteVector& o) {
  const std::string text = "LHLO office.example\r\n";
  encode_data(o, 1, Bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
});
const ByteVector window_frame = frame([](ByteVector& o) { encode_window(o, 1, 65536); });
const ByteVector fin_frame = frame([](ByteVector& o) { encode_fin(o, 1); });
const ByteVector rst_frame = frame([](ByteVector& o) { encode_rst(o, 1, ResetCode::backend_refused, "connection refused"); });
const ByteVector ping_frame = frame([](ByteVector& o) { encode_ping(o, FrameType::ping, 42); });
const ByteVector pong_frame = frame([](ByteVector& o) { encode_ping(o, FrameType::pong, 42); });
const ByteVector rekey_frame = frame([](ByteVector& o) { encode_rekey(o); });
const ByteVector goaway_frame = frame([](ByteVector& o) { encode_goaway(o, 1, 0); });

void frames() {
  write("frame", "open", open_frame);
  write("frame", "data", data_frame);
  write("frame", "window", window_frame);
  write("frame", "fin", fin_frame);
  write("frame", "rst", rst_frame);
  write("frame", "ping_pong", cat({ping_frame, pong_frame}));
  write("frame", "rekey_goaway", cat({rekey_frame, goaway_frame}));
}

void records() {
  const std::array<std::uint8_t, 32> fixed_key{1, 2, 3, 4, 5, 6, 7, 8};  // as fuzz_record.cpp
  RecordEncoder encoder{noise::CipherState(fixed_key)};
  ByteVector wire;
  (void)encoder.seal(open_frame, wire);
  (void)encoder.seal(data_frame, wire);
  write("record", "two_records_in_fragments_of_7", cat({{0x00, 6}, wire}));
  write("record", "round_trip", cat({{0x01}, open_frame, {0xff}, data_frame, {0xff}, fin_frame}));
}

void handshakes() {
  const fuzz::FixedKeys keys;
  auto initiator = Initiator::start(keys.office, keys.vps.public_key(), keys.psk, fuzz::fixed_timestamp(),
                                    keys.office_ephemeral());
  Responder responder(keys.vps);
  responder.add_peer(keys.office.public_key(), keys.psk);
  auto accepted = responder.on_initiation(initiator->initiation(), fuzz::fixed_latest(), {}, keys.vps_ephemeral());
  if (!accepted) throw std::runtime_error("the fixed handshake failed");
  write("responder", "message1", cat({{0x00}, initiator->initiation()}));
  write("responder", "message1_mac1_repaired", cat({{0x01}, initiator->initiation()}));
  write("initiator", "message2", cat({{0x00}, accepted->response}));
  write("initiator", "message2_mac1_repaired", cat({{0x01}, accepted->response}));
}

ByteVector step(std::uint8_t op, const ByteVector& bytes) {
  return cat({{op, static_cast<std::uint8_t>(bytes.size() >> 8), static_cast<std::uint8_t>(bytes.size())}, bytes});
}

void sessions() {
  const std::string reply = "220 office.example LMTP\r\n";
  write("session", "open_data_reply_fin",
        cat({step(0, open_frame), step(0, data_frame), step(3, ByteVector(reply.begin(), reply.end())),
             step(0, window_frame), step(0, fin_frame), step(4, {})}));
  write("session", "ping_rekey_data_tick",
        cat({step(0, ping_frame), step(0, cat({open_frame, rekey_frame})), step(0, data_frame),
             step(2, ByteVector(200)), step(0, rst_frame)}));
  write("session", "local_open_goaway", cat({step(5, {}), step(0, window_frame), step(0, goaway_frame)}));
}

void proxy_addresses() {
  auto address = [](std::uint8_t family, std::initializer_list<std::uint8_t> bytes, std::uint16_t port) {
    ByteVector out{family};
    ByteVector padded(bytes);
    padded.resize(16);
    out.insert(out.end(), padded.begin(), padded.end());
    out.push_back(static_cast<std::uint8_t>(port >> 8));
    out.push_back(static_cast<std::uint8_t>(port));
    return out;
  };
  write("proxy_header", "tcp4", cat({address(4, {192, 0, 2, 1}, 56324), address(4, {198, 51, 100, 7}, 25)}));
  write("proxy_header", "tcp6",
        cat({address(6, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 40000),
             address(6, {0x20, 0x01, 0x0d, 0xb8, 0, 1}, 143)}));
  write("proxy_header", "mapped_and_v4",
        cat({address(6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1}, 1234), address(4, {10, 0, 0, 2}, 24)}));
  write("proxy_header", "unknown", cat({address(0, {}, 0), address(4, {127, 0, 0, 1}, 24)}));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
    return 2;
  }
  root = argv[1];
  frames();
  records();
  handshakes();
  sessions();
  proxy_addresses();
  return 0;
}
