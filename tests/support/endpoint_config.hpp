#pragma once
// Configurations for in-process endpoints on loopback, built as structs (no files): two endpoints
// that know each other as their one peer, with fixed keys so a failure reproduces.

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "cli/config.hpp"

namespace mailtun::testing {

/// The same private key every run: 32 bytes of `fill`, clamped.
inline keys::PrivateKey fixed_private_key(std::uint8_t fill) {
  std::array<std::uint8_t, keys::key_size> bytes{};
  bytes.fill(fill);
  return keys::PrivateKey::from_bytes(bytes);
}

inline keys::PresharedKey fixed_psk() {
  std::array<std::uint8_t, keys::key_size> bytes{};
  bytes.fill(0x5a);
  return keys::PresharedKey::from_bytes(bytes);
}

/// One endpoint as the other sees it.
struct LoopbackSide {
  std::string name;
  std::uint8_t key_fill;
  std::uint16_t listen_port;  // 0: any free port
};

/// The configuration of `self`, listening on 127.0.0.1 and knowing `other` as its one peer, which
/// it dials at other.listen_port when `dial` is set.
inline cli::Config loopback_config(const LoopbackSide& self, const LoopbackSide& other, bool dial) {
  cli::Config config{.path = self.name + ".toml",
                     .interface = cli::Interface{.name = self.name,
                                                 .private_key = fixed_private_key(self.key_fill),
                                                 .listen = cli::SocketAddress{"127.0.0.1", self.listen_port, false}}};
  cli::Peer peer;
  peer.name = other.name;
  peer.public_key = fixed_private_key(other.key_fill).public_key();
  peer.psk = fixed_psk();
  if (dial) peer.endpoint = cli::HostPort{"127.0.0.1", other.listen_port};
  config.peers.push_back(std::move(peer));
  return config;
}

/// True if the public key of fixed_private_key(a) sorts before that of fixed_private_key(b).
inline bool public_key_is_lower(std::uint8_t a, std::uint8_t b) {
  const auto ka = fixed_private_key(a).public_key();
  const auto kb = fixed_private_key(b).public_key();
  return std::ranges::lexicographical_compare(ka.bytes(), kb.bytes());
}

}  // namespace mailtun::testing
