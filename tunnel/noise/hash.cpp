#include "tunnel/noise/hash.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <cassert>
#include <memory>
#include <stdexcept>

namespace mailtun::tunnel::noise {

Digest::~Digest() { sodium_memzero(bytes_.data(), bytes_.size()); }

namespace {

Digest blake2b_hash(std::span<const Bytes> parts) {
  Digest out(64);
  crypto_generichash_blake2b_state state;
  crypto_generichash_blake2b_init(&state, nullptr, 0, 64);
  for (Bytes part : parts) crypto_generichash_blake2b_update(&state, part.data(), part.size());
  crypto_generichash_blake2b_final(&state, out.mutable_bytes().data(), 64);
  sodium_memzero(&state, sizeof state);
  return out;
}

// libsodium has no BLAKE2s; OpenSSL's fixed-length BLAKE2s-256 is exactly Noise's BLAKE2s.
Digest blake2s_hash(std::span<const Bytes> parts) {
  Digest out(32);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  bool ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_blake2s256(), nullptr) == 1;
  for (Bytes part : parts) ok = ok && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) == 1;
  unsigned int len = 0;
  ok = ok && EVP_DigestFinal_ex(ctx.get(), out.mutable_bytes().data(), &len) == 1 && len == 32;
  if (!ok) throw std::runtime_error("OpenSSL BLAKE2s-256 is unavailable");
  return out;
}

const HashAlgorithm blake2b_algorithm{"BLAKE2b", 64, 128, &blake2b_hash};
const HashAlgorithm blake2s_algorithm{"BLAKE2s", 32, 64, &blake2s_hash};

}  // namespace

const HashAlgorithm& blake2b() { return blake2b_algorithm; }
const HashAlgorithm& blake2s() { return blake2s_algorithm; }

Digest hmac(const HashAlgorithm& alg, Bytes key, std::initializer_list<Bytes> data) {
  std::array<std::uint8_t, 128> block{};
  assert(alg.block_len <= block.size());
  if (key.size() > alg.block_len) {
    const Digest hashed_key = alg.hash({key});
    std::copy(hashed_key.bytes().begin(), hashed_key.bytes().end(), block.begin());
  } else {
    std::copy(key.begin(), key.end(), block.begin());
  }
  const Bytes padded(block.data(), alg.block_len);

  for (std::size_t i = 0; i < alg.block_len; ++i) block[i] ^= 0x36;
  // HASH((K ⊕ ipad) ‖ data...), the data parts passed through without copying.
  std::array<Bytes, 4> parts{padded};
  if (data.size() + 1 > parts.size()) throw std::logic_error("hmac: too many data parts");
  std::copy(data.begin(), data.end(), parts.begin() + 1);
  const Digest inner = alg.hash_parts(std::span<const Bytes>(parts.data(), data.size() + 1));
  for (std::size_t i = 0; i < alg.block_len; ++i) block[i] ^= 0x36 ^ 0x5c;
  Digest outer = alg.hash({padded, inner.bytes()});
  sodium_memzero(block.data(), block.size());
  return outer;
}

void hkdf(const HashAlgorithm& alg, Bytes chaining_key, Bytes input_key_material, std::span<Digest> outputs) {
  assert(outputs.size() == 2 || outputs.size() == 3);
  const Digest temp_key = hmac(alg, chaining_key, {input_key_material});
  const std::uint8_t one = 0x01;
  outputs[0] = hmac(alg, temp_key.bytes(), {Bytes(&one, 1)});
  for (std::size_t i = 1; i < outputs.size(); ++i) {
    const auto counter = static_cast<std::uint8_t>(i + 1);
    outputs[i] = hmac(alg, temp_key.bytes(), {outputs[i - 1].bytes(), Bytes(&counter, 1)});
  }
}

}  // namespace mailtun::tunnel::noise
