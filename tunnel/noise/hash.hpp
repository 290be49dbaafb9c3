#pragma once
// Noise §4.3 hash functions and §4.3's HMAC-HASH / HKDF built on them. BLAKE2b is what mailtun
// speaks; BLAKE2s is here so the standard vectors cover the generic code twice.

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

#include "tunnel/chacha_poly.hpp"

namespace mailtun::tunnel::noise {

inline constexpr std::size_t max_hash_len = 64;

/// A hash output of HASHLEN bytes (32 or 64). Wiped on destruction: chaining keys and HKDF outputs
/// are secrets.
class Digest {
 public:
  Digest() = default;
  explicit Digest(std::size_t size) : size_(size) {}
  Digest(const Digest&) = default;
  Digest& operator=(const Digest&) = default;
  ~Digest();

  [[nodiscard]] std::span<const std::uint8_t> bytes() const { return {bytes_.data(), size_}; }
  [[nodiscard]] std::span<std::uint8_t> mutable_bytes() { return {bytes_.data(), size_}; }
  /// The first 32 bytes: a cipher key (Noise §5: with HASHLEN 64, keys are truncated to 32).
  [[nodiscard]] Key32 first_32() const { return Key32(bytes_.data(), 32); }
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  std::array<std::uint8_t, max_hash_len> bytes_{};
  std::size_t size_ = 0;
};

struct HashAlgorithm {
  std::string_view name;  // as in protocol names: "BLAKE2b"
  std::size_t hash_len;   // HASHLEN
  std::size_t block_len;  // BLOCKLEN (for HMAC)
  /// HASH(parts[0] ‖ parts[1] ‖ …)
  Digest (*hash_parts)(std::span<const Bytes> parts);

  [[nodiscard]] Digest hash(std::initializer_list<Bytes> parts) const {
    return hash_parts(std::span<const Bytes>(parts.begin(), parts.size()));
  }
};

const HashAlgorithm& blake2b();
const HashAlgorithm& blake2s();

/// RFC 2104 HMAC over the hash (not BLAKE2's keyed mode), of the concatenated data parts.
Digest hmac(const HashAlgorithm& alg, Bytes key, std::initializer_list<Bytes> data);

/// Noise §4.3 HKDF(chaining_key, input_key_material, num_outputs) with num_outputs = outputs.size()
/// (2 or 3).
void hkdf(const HashAlgorithm& alg, Bytes chaining_key, Bytes input_key_material, std::span<Digest> outputs);

}  // namespace mailtun::tunnel::noise
