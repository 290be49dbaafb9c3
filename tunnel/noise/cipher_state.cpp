#include "tunnel/noise/cipher_state.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cassert>

namespace mailtun::tunnel::noise {

void CipherState::initialize_key(Key32 k) {
  cipher_.emplace(k);
  n_ = 0;
}

Result<void> CipherState::encrypt_with_ad(Bytes ad, Bytes head, Bytes body, MutableBytes out) {
  if (!cipher_) {
    assert(out.size() == head.size() + body.size());
    std::copy(body.begin(), body.end(), out.begin() + static_cast<std::ptrdiff_t>(head.size()));
    std::copy(head.begin(), head.end(), out.begin());
    return {};
  }
  if (n_ == max_nonce) return fail(errc::nonce_exhausted);
  cipher_->seal(n_, ad, head, body, out);
  ++n_;
  return {};
}

Result<void> CipherState::decrypt_with_ad(Bytes ad, Bytes ciphertext, MutableBytes out) {
  if (!cipher_) {
    assert(out.size() == ciphertext.size());
    std::copy(ciphertext.begin(), ciphertext.end(), out.begin());
    return {};
  }
  if (ciphertext.size() < 16) return fail(errc::record_too_short);
  if (n_ == max_nonce) return fail(errc::nonce_exhausted);
  if (!cipher_->open(n_, ad, ciphertext, out)) return fail(errc::decrypt_failed);
  ++n_;
  return {};
}

void CipherState::rekey() {
  assert(cipher_);
  std::array<std::uint8_t, 32> zeros{};
  std::array<std::uint8_t, 48> out{};
  cipher_->seal(max_nonce, {}, zeros, out);
  cipher_.emplace(Key32(out.data(), 32));
  sodium_memzero(out.data(), out.size());
}

}  // namespace mailtun::tunnel::noise
