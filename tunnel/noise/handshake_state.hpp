#pragma once
// Noise §5.3 HandshakeState for the patterns mailtun uses (IKpsk2) and two more that the standard
// vectors cover (IK, NN), with DH = Curve25519, cipher = ChaChaPoly, hash = BLAKE2b or BLAKE2s.
// Pure: no I/O, no clock. The only randomness is the ephemeral key, which callers may inject.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "keys/key.hpp"
#include "tunnel/noise/symmetric_state.hpp"

namespace mailtun::tunnel::noise {

enum class Token : std::uint8_t { e, s, ee, es, se, ss, psk };

struct HandshakePattern {
  std::string_view name;
  bool responder_static_premessage;  // "<- s": the initiator knows the responder's static key
  std::vector<std::vector<Token>> messages;
  /// True if any message of the pattern has `token`.
  [[nodiscard]] bool uses(Token token) const;
  [[nodiscard]] bool psk_mode() const { return uses(Token::psk); }
};

struct Protocol {
  std::string name;
  const HandshakePattern* pattern;
  const HashAlgorithm* hash;
};

/// Parses "Noise_<pattern>_25519_ChaChaPoly_<hash>" for the supported patterns and hashes;
/// std::nullopt for anything else.
std::optional<Protocol> parse_protocol_name(std::string_view name);

struct HandshakeParams {
  Protocol protocol;
  bool initiator = false;
  Bytes prologue;
  const keys::PrivateKey* s = nullptr;  // local static key; borrowed, must outlive the handshake
  std::optional<keys::PublicKey> rs;    // remote static key known in advance ("<- s")
  const keys::PresharedKey* psk = nullptr;  // borrowed; may instead be set later with set_psk()
  std::optional<keys::PrivateKey> e;    // fixed ephemeral key (test vectors); generated if absent
};

class HandshakeState {
 public:
  /// Throws std::invalid_argument if a key the pattern needs is missing (a local programming
  /// error, never peer input).
  explicit HandshakeState(HandshakeParams params);

  /// Writes the next handshake message with `payload`. Fails with invalid_state when it is not this
  /// side's turn, weak_public_key when a DH gives all zeros.
  Result<std::vector<std::uint8_t>> write_message(Bytes payload);
  /// Reads the next handshake message and returns its payload. Fails with bad_length for a message
  /// of the wrong size, decrypt_failed when an AEAD tag does not verify, weak_public_key for a
  /// low-order point. After a failure the handshake must be abandoned.
  Result<std::vector<std::uint8_t>> read_message(Bytes message);

  /// Supplies the PSK once the peer is known (a responder learns who the initiator is only from
  /// message 1). Borrowed: must outlive the handshake. A psk token without a PSK fails with
  /// invalid_state.
  void set_psk(const keys::PresharedKey& psk) { psk_ = &psk; }

  [[nodiscard]] bool complete() const { return index_ == pattern_->messages.size(); }
  /// Transport ciphers: first initiator → responder, second responder → initiator.
  [[nodiscard]] std::pair<CipherState, CipherState> split() const { return symmetric_.split(); }
  [[nodiscard]] const Digest& handshake_hash() const { return symmetric_.handshake_hash(); }
  [[nodiscard]] const std::optional<keys::PublicKey>& remote_static() const { return rs_; }

 private:
  [[nodiscard]] bool my_turn() const { return (index_ % 2 == 0) == initiator_; }
  Result<void> mix_dh(Token token);

  const HandshakePattern* pattern_;
  SymmetricState symmetric_;
  bool initiator_;
  const keys::PrivateKey* s_;
  std::optional<keys::PrivateKey> e_;
  std::optional<keys::PublicKey> rs_;
  std::optional<keys::PublicKey> re_;
  const keys::PresharedKey* psk_;
  std::size_t index_ = 0;
};

}  // namespace mailtun::tunnel::noise
