#pragma once
// DESIGN §4.1 mac1: BLAKE2b-128 keyed with BLAKE2b-256("mac1----" ‖ receiver's static public key),
// over every byte of the handshake message from the type byte up to mac1. It proves the sender knows
// whom it is talking to, and lets the receiver drop strangers' bytes before any Diffie-Hellman.

#include <array>
#include <cstdint>
#include <span>

#include "keys/key.hpp"
#include "tunnel/chacha_poly.hpp"
#include "tunnel/constants.hpp"

namespace mailtun::tunnel {

using Mac1 = std::array<std::uint8_t, mac1_len>;

class Mac1Key {
 public:
  /// The key for messages addressed to `receiver_static`.
  explicit Mac1Key(const keys::PublicKey& receiver_static);

  [[nodiscard]] Mac1 compute(Bytes covered) const;
  /// Constant-time comparison.
  [[nodiscard]] bool verify(Bytes covered, std::span<const std::uint8_t, mac1_len> mac) const;

 private:
  std::array<std::uint8_t, 32> key_{};
};

}  // namespace mailtun::tunnel
