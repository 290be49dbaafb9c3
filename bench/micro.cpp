// mailtun-micro — Google Benchmark microbenchmarks of the bulk path's pure parts, each beside the
// raw AEAD on the same buffers: how far sealing and opening a record, and the Session around it,
// are from the cipher alone. bench/README.md says how to run them; docs/benchmarks.md quotes them.

#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <array>
#include <stdexcept>
#include <vector>

#include "tunnel/frame.hpp"
#include "tunnel/record.hpp"
#include "tunnel/session.hpp"

using namespace mailtun;
using namespace mailtun::tunnel;

namespace {

constexpr std::size_t record_body = max_data_per_record;  // a full DATA record's payload
const std::array<std::uint8_t, 32> key = {1, 2, 3};

std::vector<std::uint8_t> payload(std::size_t n) {
  std::vector<std::uint8_t> bytes(n);
  for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::uint8_t>(i * 131);
  return bytes;
}

void count_bytes(benchmark::State& state, std::size_t per_iteration) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * per_iteration));
}

// The floor: OpenSSL's EVP ChaCha20-Poly1305 sealing the plaintext of one full record, called as
// directly as the library allows (key set once, a nonce per message).
void RawAeadSeal(benchmark::State& state) {
  const auto plaintext = payload(max_record_plaintext);
  std::vector<std::uint8_t> out(max_record_plaintext + aead_tag_len);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), nullptr, key.data(), nullptr) != 1) throw std::runtime_error("EVP");
  std::array<std::uint8_t, 12> nonce{};
  std::uint64_t n = 0;
  for (auto _ : state) {
    ++n;
    for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
    int len = 0;
    EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data());
    EVP_EncryptUpdate(ctx, out.data(), &len, plaintext.data(), static_cast<int>(plaintext.size()));
    EVP_EncryptFinal_ex(ctx, out.data() + plaintext.size(), &len);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out.data() + plaintext.size());
    benchmark::DoNotOptimize(out.data());
  }
  EVP_CIPHER_CTX_free(ctx);
  count_bytes(state, max_record_plaintext);
}
BENCHMARK(RawAeadSeal);

void RawAeadOpen(benchmark::State& state) {
  ChaChaPoly cipher(key);
  auto sealed = payload(max_record_plaintext + aead_tag_len);
  cipher.seal(0, {}, Bytes(payload(max_record_plaintext)), sealed);
  std::vector<std::uint8_t> out(max_record_plaintext);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (EVP_DecryptInit_ex(ctx, EVP_chacha20_poly1305(), nullptr, key.data(), nullptr) != 1) throw std::runtime_error("EVP");
  const std::array<std::uint8_t, 12> nonce{};
  std::array<std::uint8_t, 16> tag{};
  std::copy(sealed.end() - 16, sealed.end(), tag.begin());
  for (auto _ : state) {
    int len = 0;
    EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data());
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag.data());
    EVP_DecryptUpdate(ctx, out.data(), &len, sealed.data(), static_cast<int>(max_record_plaintext));
    if (EVP_DecryptFinal_ex(ctx, out.data() + len, &len) != 1) state.SkipWithError("tag did not verify");
    benchmark::DoNotOptimize(out.data());
  }
  EVP_CIPHER_CTX_free(ctx);
  count_bytes(state, max_record_plaintext);
}
BENCHMARK(RawAeadOpen);

// A DATA record as the Session seals it: the frame header and the payload where the local read
// left it, in two pieces, appended to the output.
void RecordSealData(benchmark::State& state) {
  RecordEncoder encoder{noise::CipherState(key)};
  const auto body = payload(record_body);
  std::vector<std::uint8_t> out;
  out.reserve(length_field_len + max_record_ciphertext);
  for (auto _ : state) {
    out.clear();
    const auto header = data_frame_header(1, body.size());
    if (!encoder.seal(header, body, out)) state.SkipWithError("seal failed");
    benchmark::DoNotOptimize(out.data());
  }
  count_bytes(state, record_body);
}
BENCHMARK(RecordSealData);

// Opening full records as they arrive: read into the decoder's buffer (prepare/commit), opened in
// place. Sealing the input is kept out of the timing.
void RecordOpen(benchmark::State& state) {
  constexpr std::size_t batch = 64;
  RecordEncoder encoder{noise::CipherState(key)};
  RecordDecoder decoder{noise::CipherState(key)};
  const auto body = payload(max_record_plaintext);
  std::vector<std::uint8_t> wire;
  std::size_t left = 0, pos = 0;
  for (auto _ : state) {
    if (left == 0) {
      state.PauseTiming();
      wire.clear();
      for (std::size_t i = 0; i < batch; ++i) (void)encoder.seal(body, wire);
      left = batch;
      pos = 0;
      state.ResumeTiming();
    }
    const std::size_t record = length_field_len + max_record_ciphertext;
    const MutableBytes room = decoder.prepare(record);
    std::copy_n(wire.begin() + static_cast<std::ptrdiff_t>(pos), record, room.begin());  // what recv() does
    decoder.commit(record);
    pos += record;
    --left;
    auto opened = decoder.next();
    if (!opened || !*opened) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(opened);
  }
  count_bytes(state, max_record_plaintext);
}
BENCHMARK(RecordOpen);

// The frame codec alone: a record's worth of small control frames (WINDOW), encoded, then read back.
void FrameCodecSmallFrames(benchmark::State& state) {
  std::vector<std::uint8_t> frames;
  frames.reserve(max_record_plaintext);
  std::size_t count = 0;
  for (auto _ : state) {
    frames.clear();
    count = 0;
    for (StreamId id = 1; frames.size() + frame_header_len + 4 <= max_record_plaintext; id += 2, ++count) {
      encode_window(frames, id, 65536);
    }
    FrameReader reader(frames);
    for (;;) {
      auto frame = reader.next();
      if (!frame || !*frame) break;
      benchmark::DoNotOptimize(**frame);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * count));
}
BENCHMARK(FrameCodecSmallFrames);

// Session::send of one local read (four full records) on an established session: the frame
// header, the seal, the output buffer and the flow-control bookkeeping together.
void SessionSendRead(benchmark::State& state) {
  const keys::PrivateKey office = keys::PrivateKey::generate(), vps = keys::PrivateKey::generate();
  const keys::PresharedKey psk;
  Responder responder(vps);
  responder.add_peer(office.public_key(), psk);
  TimePoint now{};
  Output a_out, b_out;
  auto initiator = Initiator::start(office, vps.public_key(), psk, Tai64n::from_system_time({}));
  SessionLimits limits;
  limits.initial_window = 0xffff0000U;  // credit is not what is measured here
  Session a = Session::dial(std::move(*initiator), 0, limits, now, a_out);
  Session b = Session::accept(responder, limits, now);
  b.on_bytes(a_out.to_peer, now, b_out);
  a_out.to_peer.clear();
  a.on_bytes(b_out.to_peer, now, a_out);
  b.on_bytes(a_out.to_peer, now, b_out);  // the first record confirms b
  a_out.to_peer.clear();
  const auto id = a.open_stream(OpenPayload{"lmtp", {}, {}}, now, a_out);
  if (!id) throw std::runtime_error("open failed");
  const auto read = payload(4 * record_body);
  std::size_t sent = 0;
  for (auto _ : state) {
    a_out.to_peer.clear();
    if (a.send_credit(*id) < read.size()) {
      state.SkipWithError("out of credit");
      break;
    }
    sent += a.send(*id, read, now, a_out);
    benchmark::DoNotOptimize(a_out.to_peer.data());
  }
  count_bytes(state, read.size());
}
BENCHMARK(SessionSendRead);

}  // namespace

BENCHMARK_MAIN();
