#include "keys/key.hpp"

#include <sodium.h>

#include <algorithm>
#include <new>
#include <utility>

#include "keys/sodium.hpp"

namespace mailtun::keys {

GuardedKey::GuardedKey() {
  ensure_sodium();
  data_ = static_cast<std::uint8_t*>(sodium_malloc(key_size));
  if (data_ == nullptr) throw std::bad_alloc();
  sodium_memzero(data_, key_size);
  seal();
}

GuardedKey::GuardedKey(KeySpan bytes) : GuardedKey() {
  write([&](auto out) { std::copy(bytes.begin(), bytes.end(), out.begin()); });
}

GuardedKey::~GuardedKey() {
  if (data_ != nullptr) sodium_free(data_);  // sodium_free wipes before releasing
}

GuardedKey::GuardedKey(GuardedKey&& other) noexcept : data_(std::exchange(other.data_, nullptr)) {}

GuardedKey& GuardedKey::operator=(GuardedKey&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) sodium_free(data_);
    data_ = std::exchange(other.data_, nullptr);
  }
  return *this;
}

KeySpan GuardedKey::bytes() const { return KeySpan(data_, key_size); }
void GuardedKey::unseal() { sodium_mprotect_readwrite(data_); }
void GuardedKey::seal() { sodium_mprotect_readonly(data_); }

PublicKey::PublicKey(KeySpan bytes) { std::copy(bytes.begin(), bytes.end(), bytes_.begin()); }

void clamp(std::span<std::uint8_t, key_size> scalar) {
  scalar[0] &= 248;
  scalar[31] = static_cast<std::uint8_t>((scalar[31] & 127) | 64);
}

PrivateKey PrivateKey::generate() {
  GuardedKey key;
  key.write([](auto out) {
    randombytes_buf(out.data(), out.size());
    clamp(out);
  });
  return PrivateKey(std::move(key));
}

PrivateKey PrivateKey::from_bytes(KeySpan bytes) {
  GuardedKey key;
  key.write([&](auto out) {
    std::copy(bytes.begin(), bytes.end(), out.begin());
    clamp(out);
  });
  return PrivateKey(std::move(key));
}

PublicKey PrivateKey::public_key() const {
  std::array<std::uint8_t, key_size> pub{};
  crypto_scalarmult_curve25519_base(pub.data(), key_.bytes().data());
  return PublicKey(pub);
}

PresharedKey PresharedKey::generate() {
  GuardedKey key;
  key.write([](auto out) { randombytes_buf(out.data(), out.size()); });
  return PresharedKey(std::move(key));
}

PresharedKey PresharedKey::from_bytes(KeySpan bytes) { return PresharedKey(GuardedKey(bytes)); }

}  // namespace mailtun::keys
