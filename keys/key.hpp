#pragma once
// Key types of DESIGN §3. Secrets live in libsodium guarded memory (guard pages, mlock, wiped on
// free), cannot be copied, and have no formatter or stream operator, so logging one fails to compile.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace mailtun::keys {

inline constexpr std::size_t key_size = 32;
using KeySpan = std::span<const std::uint8_t, key_size>;

/// 32 bytes in libsodium guarded memory, read-only except while being filled, wiped on destruction.
/// Move-only; a moved-from instance holds nothing and must not be read.
class GuardedKey {
 public:
  GuardedKey();  // all-zero
  explicit GuardedKey(KeySpan bytes);
  ~GuardedKey();
  GuardedKey(GuardedKey&& other) noexcept;
  GuardedKey& operator=(GuardedKey&& other) noexcept;
  GuardedKey(const GuardedKey&) = delete;
  GuardedKey& operator=(const GuardedKey&) = delete;

  [[nodiscard]] KeySpan bytes() const;

  /// Calls `fill` with the 32 writable bytes, then seals the memory read-only again.
  template <typename Fill>
  void write(Fill&& fill) {
    unseal();
    fill(std::span<std::uint8_t, key_size>(data_, key_size));
    seal();
  }

 private:
  void unseal();
  void seal();
  std::uint8_t* data_ = nullptr;
};

/// A Curve25519 public key. Not secret: comparable and copyable.
class PublicKey {
 public:
  PublicKey() = default;
  explicit PublicKey(KeySpan bytes);
  [[nodiscard]] KeySpan bytes() const { return bytes_; }
  friend bool operator==(const PublicKey&, const PublicKey&) = default;

 private:
  std::array<std::uint8_t, key_size> bytes_{};
};

/// A Curve25519 private key, clamped as X25519 and `wg genkey` clamp it.
class PrivateKey {
 public:
  /// 32 bytes from the system RNG, clamped.
  static PrivateKey generate();
  /// Takes any 32 bytes and clamps them; the public key is the same either way because X25519
  /// clamps its scalar, which is why `wg pubkey` accepts unclamped keys too.
  static PrivateKey from_bytes(KeySpan bytes);

  [[nodiscard]] KeySpan bytes() const { return key_.bytes(); }
  [[nodiscard]] PublicKey public_key() const;

 private:
  explicit PrivateKey(GuardedKey key) : key_(std::move(key)) {}
  GuardedKey key_;
};

/// A 32-byte preshared key (Noise psk). The all-zero key stands for "no PSK configured" (DESIGN §4.1).
class PresharedKey {
 public:
  PresharedKey() = default;  // all-zero
  static PresharedKey generate();
  static PresharedKey from_bytes(KeySpan bytes);
  [[nodiscard]] KeySpan bytes() const { return key_.bytes(); }

 private:
  explicit PresharedKey(GuardedKey key) : key_(std::move(key)) {}
  GuardedKey key_;
};

/// Clamps a Curve25519 scalar in place (RFC 7748 §5), as WireGuard's `curve25519_clamp_secret`.
void clamp(std::span<std::uint8_t, key_size> scalar);

}  // namespace mailtun::keys
