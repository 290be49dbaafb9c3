// Fuzz target: the record decoder (DESIGN §4.2) on an arbitrary byte stream cut into arbitrary
// fragments, and a seal/open round trip of arbitrary plaintexts under a fixed key.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tunnel/record.hpp"

using namespace mailtun::tunnel;

namespace {

constexpr std::array<std::uint8_t, 32> fixed_key{1, 2, 3, 4, 5, 6, 7, 8};

void require(bool condition) {
  if (!condition) std::abort();
}

// The first byte of the input picks the fragment size; the rest is fed as received bytes.
void decode_stream(Bytes input) {
  const std::size_t fragment = 1 + input[0];
  input = input.subspan(1);
  RecordDecoder decoder{noise::CipherState(fixed_key)};
  for (std::size_t pos = 0; pos < input.size(); pos += fragment) {
    decoder.feed(input.subspan(pos, std::min(fragment, input.size() - pos)));
    for (;;) {
      auto plaintext = decoder.next();
      if (!plaintext || !*plaintext) break;
      require(!(*plaintext)->empty() && (*plaintext)->size() <= max_record_plaintext);
    }
    require(decoder.buffered() <= input.size());
  }
}

// The input, cut into plaintexts at every 0xff byte, sealed and opened again: what comes out is
// what went in, with a REKEY on both sides after every second record.
void round_trip(Bytes input) {
  RecordEncoder encoder{noise::CipherState(fixed_key)};
  RecordDecoder decoder{noise::CipherState(fixed_key)};
  std::vector<std::vector<std::uint8_t>> sent;
  std::vector<std::uint8_t> wire;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= input.size(); ++i) {
    if (i < input.size() && input[i] != 0xff) continue;
    if (i > start) {
      Bytes plaintext = input.subspan(start, i - start);
      require(encoder.seal(plaintext, wire).has_value());
      sent.emplace_back(plaintext.begin(), plaintext.end());
      decoder.feed(wire);
      wire.clear();
      auto opened = decoder.next();
      require(opened && *opened && std::ranges::equal(**opened, sent.back()));
      if (sent.size() % 2 == 0) {
        encoder.rekey();
        decoder.rekey();
      }
    }
    start = i + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const Bytes input(data + 1, size - 1);
  if (data[0] & 1) {
    round_trip(input);
  } else {
    decode_stream(input);
  }
  return 0;
}
