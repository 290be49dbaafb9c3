#pragma once
// Noise §5.2 SymmetricState: the chaining key ck, the handshake hash h and a CipherState.

#include <string_view>
#include <utility>
#include <vector>

#include "tunnel/noise/cipher_state.hpp"
#include "tunnel/noise/hash.hpp"

namespace mailtun::tunnel::noise {

class SymmetricState {
 public:
  /// InitializeSymmetric(protocol_name): h = name zero-padded to HASHLEN if it fits, else HASH(name).
  SymmetricState(const HashAlgorithm& alg, std::string_view protocol_name);

  void mix_key(Bytes input_key_material);
  void mix_hash(Bytes data);
  void mix_key_and_hash(Bytes input_key_material);

  /// Appends the (encrypted, once a key exists) plaintext to `out`, then mixes it into h.
  Result<void> encrypt_and_hash(Bytes plaintext, std::vector<std::uint8_t>& out);
  /// Appends the decrypted ciphertext to `out`, then mixes the ciphertext into h.
  Result<void> decrypt_and_hash(Bytes ciphertext, std::vector<std::uint8_t>& out);

  /// The two transport CipherStates: first for initiator → responder, second for the reverse.
  [[nodiscard]] std::pair<CipherState, CipherState> split() const;

  [[nodiscard]] const Digest& handshake_hash() const { return h_; }
  [[nodiscard]] bool has_key() const { return cipher_.has_key(); }
  [[nodiscard]] const HashAlgorithm& algorithm() const { return alg_; }

 private:
  const HashAlgorithm& alg_;
  Digest ck_;
  Digest h_;
  CipherState cipher_;
};

}  // namespace mailtun::tunnel::noise
