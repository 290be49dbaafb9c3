#include "tunnel/noise/symmetric_state.hpp"

#include <algorithm>
#include <array>

namespace mailtun::tunnel::noise {
namespace {

Bytes as_bytes(std::string_view s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

}  // namespace

SymmetricState::SymmetricState(const HashAlgorithm& alg, std::string_view protocol_name)
    : alg_(alg), ck_(alg.hash_len), h_(alg.hash_len) {
  if (protocol_name.size() <= alg.hash_len) {
    std::copy(protocol_name.begin(), protocol_name.end(), h_.mutable_bytes().begin());
  } else {
    h_ = alg.hash({as_bytes(protocol_name)});
  }
  ck_ = h_;
}

void SymmetricState::mix_key(Bytes input_key_material) {
  std::array<Digest, 2> out;
  hkdf(alg_, ck_.bytes(), input_key_material, out);
  ck_ = out[0];
  cipher_.initialize_key(out[1].first_32());
}

void SymmetricState::mix_hash(Bytes data) { h_ = alg_.hash({h_.bytes(), data}); }

void SymmetricState::mix_key_and_hash(Bytes input_key_material) {
  std::array<Digest, 3> out;
  hkdf(alg_, ck_.bytes(), input_key_material, out);
  ck_ = out[0];
  mix_hash(out[1].bytes());
  cipher_.initialize_key(out[2].first_32());
}

Result<void> SymmetricState::encrypt_and_hash(Bytes plaintext, std::vector<std::uint8_t>& out) {
  const std::size_t start = out.size();
  out.resize(start + plaintext.size() + cipher_.overhead());
  const MutableBytes ciphertext(out.data() + start, out.size() - start);
  if (auto r = cipher_.encrypt_with_ad(h_.bytes(), plaintext, ciphertext); !r) return r;
  mix_hash(ciphertext);
  return {};
}

Result<void> SymmetricState::decrypt_and_hash(Bytes ciphertext, std::vector<std::uint8_t>& out) {
  if (ciphertext.size() < cipher_.overhead()) return fail(errc::bad_length);
  const std::size_t start = out.size();
  out.resize(start + ciphertext.size() - cipher_.overhead());
  const MutableBytes plaintext(out.data() + start, out.size() - start);
  if (auto r = cipher_.decrypt_with_ad(h_.bytes(), ciphertext, plaintext); !r) {
    out.resize(start);
    return r;
  }
  mix_hash(ciphertext);
  return {};
}

std::pair<CipherState, CipherState> SymmetricState::split() const {
  std::array<Digest, 2> out;
  hkdf(alg_, ck_.bytes(), {}, out);
  return {CipherState(out[0].first_32()), CipherState(out[1].first_32())};
}

}  // namespace mailtun::tunnel::noise
