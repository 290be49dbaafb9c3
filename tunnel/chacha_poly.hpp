#pragma once
// ChaCha20-Poly1305 (RFC 8439, "IETF") with Noise's nonce layout: 4 zero bytes ‖ 64-bit little-endian
// counter. Two interchangeable backends that give identical bytes; `ChaChaPoly` names the one chosen
// at build time (MAILTUN_AEAD). Everything that encrypts goes through this one interface.

#include <cstdint>
#include <memory>
#include <span>

namespace mailtun::tunnel {

using Bytes = std::span<const std::uint8_t>;
using MutableBytes = std::span<std::uint8_t>;
using Key32 = std::span<const std::uint8_t, 32>;

/// libsodium's crypto_aead_chacha20poly1305_ietf. Keeps the key in guarded memory.
class SodiumChaChaPoly {
 public:
  explicit SodiumChaChaPoly(Key32 key);
  ~SodiumChaChaPoly();
  SodiumChaChaPoly(SodiumChaChaPoly&&) noexcept;
  SodiumChaChaPoly& operator=(SodiumChaChaPoly&&) noexcept;

  /// Writes ciphertext ‖ tag; `out.size()` must be `plaintext.size() + 16`. In place is allowed
  /// (out.data() == plaintext.data()).
  void seal(std::uint64_t nonce, Bytes ad, Bytes plaintext, MutableBytes out) { seal(nonce, ad, {}, plaintext, out); }
  /// The same for the plaintext `head ‖ body`, given in two pieces so that a frame header and its
  /// payload need not be copied together first; `out.size()` must be `head.size() + body.size() + 16`
  /// and `body` may be in place at `out.data() + head.size()`.
  void seal(std::uint64_t nonce, Bytes ad, Bytes head, Bytes body, MutableBytes out);
  /// Verifies and decrypts; `out.size()` must be `ciphertext.size() - 16`. Returns false, with `out`
  /// zeroed, when the tag does not verify. In place is allowed.
  [[nodiscard]] bool open(std::uint64_t nonce, Bytes ad, Bytes ciphertext, MutableBytes out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// OpenSSL libcrypto's EVP_chacha20_poly1305: the same cipher, vectorised, several times faster.
class OpenSslChaChaPoly {
 public:
  explicit OpenSslChaChaPoly(Key32 key);
  ~OpenSslChaChaPoly();
  OpenSslChaChaPoly(OpenSslChaChaPoly&&) noexcept;
  OpenSslChaChaPoly& operator=(OpenSslChaChaPoly&&) noexcept;

  void seal(std::uint64_t nonce, Bytes ad, Bytes plaintext, MutableBytes out) { seal(nonce, ad, {}, plaintext, out); }
  void seal(std::uint64_t nonce, Bytes ad, Bytes head, Bytes body, MutableBytes out);
  [[nodiscard]] bool open(std::uint64_t nonce, Bytes ad, Bytes ciphertext, MutableBytes out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

#if defined(MAILTUN_AEAD_SODIUM)
using ChaChaPoly = SodiumChaChaPoly;
#else
using ChaChaPoly = OpenSslChaChaPoly;
#endif

}  // namespace mailtun::tunnel
