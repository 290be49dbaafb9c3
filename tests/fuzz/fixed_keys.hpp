#pragma once
// The fixed key set the handshake fuzzers and the seed generator share: the same keys every run, so
// a seed message made once stays valid and a crash reproduces.

#include <array>
#include <cstdint>
#include <vector>

#include "tunnel/handshake.hpp"

namespace mailtun::fuzz {

inline keys::KeySpan key_bytes(std::uint8_t fill) {
  static std::array<std::array<std::uint8_t, keys::key_size>, 256> all = [] {
    std::array<std::array<std::uint8_t, keys::key_size>, 256> keys{};
    for (std::size_t i = 0; i < keys.size(); ++i) keys[i].fill(static_cast<std::uint8_t>(i));
    return keys;
  }();
  return all[fill];
}

struct FixedKeys {
  keys::PrivateKey office = keys::PrivateKey::from_bytes(key_bytes(1));      // dials
  keys::PrivateKey vps = keys::PrivateKey::from_bytes(key_bytes(2));         // listens
  keys::PresharedKey psk = keys::PresharedKey::from_bytes(key_bytes(3));
  keys::PrivateKey office_ephemeral() const { return keys::PrivateKey::from_bytes(key_bytes(4)); }
  keys::PrivateKey vps_ephemeral() const { return keys::PrivateKey::from_bytes(key_bytes(5)); }
};

/// The timestamp every fuzzed message 1 is sent at, and the responder's latest acceptable one.
inline tunnel::Tai64n fixed_timestamp() {
  std::array<std::uint8_t, tunnel::tai64n_len> bytes{0x40, 0, 0, 0, 0x69, 0x2d, 0x00, 0x00, 0, 0, 0, 0};
  return tunnel::Tai64n::from_bytes(bytes);
}
inline tunnel::Tai64n fixed_latest() {
  std::array<std::uint8_t, tunnel::tai64n_len> bytes{0x40, 0, 0, 0, 0x69, 0x2e, 0x00, 0x00, 0, 0, 0, 0};
  return tunnel::Tai64n::from_bytes(bytes);
}

/// Overwrites the mac1 at the end of a handshake message of the right length with the correct one
/// for `receiver`, so that mutated messages reach the Noise processing behind the mac1 check.
inline std::vector<std::uint8_t> with_valid_mac1(const std::uint8_t* data, std::size_t size,
                                                 const keys::PublicKey& receiver) {
  std::vector<std::uint8_t> message(data, data + size);
  if (size < tunnel::length_field_len + tunnel::mac1_len) return message;
  const auto covered = tunnel::Bytes(message).subspan(
      tunnel::length_field_len, size - tunnel::length_field_len - tunnel::mac1_len);
  const auto mac = tunnel::Mac1Key(receiver).compute(covered);
  std::copy(mac.begin(), mac.end(), message.end() - tunnel::mac1_len);
  return message;
}

}  // namespace mailtun::fuzz
