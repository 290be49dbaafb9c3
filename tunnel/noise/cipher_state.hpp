#pragma once
// Noise §5.1 CipherState: a key (or none) and a 64-bit nonce counter.

#include <cstdint>
#include <optional>

#include "tunnel/chacha_poly.hpp"
#include "tunnel/error.hpp"

namespace mailtun::tunnel::noise {

class CipherState {
 public:
  /// 2^64-1 is reserved (Noise §5.1): encrypting or decrypting with it is refused.
  static constexpr std::uint64_t max_nonce = ~std::uint64_t{0};

  CipherState() = default;
  explicit CipherState(Key32 k) { initialize_key(k); }

  void initialize_key(Key32 k);
  [[nodiscard]] bool has_key() const { return cipher_.has_value(); }
  [[nodiscard]] std::uint64_t nonce() const { return n_; }
  void set_nonce(std::uint64_t n) { n_ = n; }

  /// Without a key, copies plaintext to out. With a key, `out.size()` must be plaintext.size() + 16.
  /// Fails with nonce_exhausted at the reserved nonce.
  Result<void> encrypt_with_ad(Bytes ad, Bytes plaintext, MutableBytes out) { return encrypt_with_ad(ad, {}, plaintext, out); }
  /// The same for the plaintext `head ‖ body` in two pieces (ChaChaPoly::seal).
  Result<void> encrypt_with_ad(Bytes ad, Bytes head, Bytes body, MutableBytes out);
  /// With a key, `out.size()` must be ciphertext.size() - 16 and ciphertext at least 16 bytes.
  /// On failure the nonce does not advance (Noise §5.1) and out is zeroed.
  Result<void> decrypt_with_ad(Bytes ad, Bytes ciphertext, MutableBytes out);

  /// Noise §4.2 Rekey(): k = first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes). The nonce
  /// is left as it is. Requires a key.
  void rekey();

  /// Bytes added by encryption: 16 with a key, 0 without.
  [[nodiscard]] std::size_t overhead() const { return has_key() ? 16 : 0; }

 private:
  std::optional<ChaChaPoly> cipher_;
  std::uint64_t n_ = 0;
};

}  // namespace mailtun::tunnel::noise
