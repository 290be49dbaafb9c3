#include "tunnel/chacha_poly.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <array>
#include <cassert>
#include <climits>
#include <cstring>
#include <stdexcept>

#include "keys/key.hpp"

namespace mailtun::tunnel {
namespace {

constexpr std::size_t tag_len = 16;

// Noise §5.1 / ChaChaPoly: 32 bits of zeros followed by the little-endian 64-bit counter.
std::array<std::uint8_t, 12> noise_nonce(std::uint64_t n) {
  std::array<std::uint8_t, 12> nonce{};
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
  return nonce;
}

}  // namespace

// ---- libsodium ------------------------------------------------------------------------------

struct SodiumChaChaPoly::State {
  keys::GuardedKey key;
};

SodiumChaChaPoly::SodiumChaChaPoly(Key32 key) : state_(std::make_unique<State>(State{keys::GuardedKey(key)})) {}
SodiumChaChaPoly::~SodiumChaChaPoly() = default;
SodiumChaChaPoly::SodiumChaChaPoly(SodiumChaChaPoly&&) noexcept = default;
SodiumChaChaPoly& SodiumChaChaPoly::operator=(SodiumChaChaPoly&&) noexcept = default;

void SodiumChaChaPoly::seal(std::uint64_t nonce, Bytes ad, Bytes head, Bytes body, MutableBytes out) {
  const std::size_t plaintext_len = head.size() + body.size();
  assert(out.size() == plaintext_len + tag_len);
  // libsodium takes one contiguous plaintext: gather the pieces in `out` and seal in place.
  if (!body.empty() && body.data() != out.data() + head.size()) {
    std::memmove(out.data() + head.size(), body.data(), body.size());
  }
  if (!head.empty()) std::memmove(out.data(), head.data(), head.size());
  const auto iv = noise_nonce(nonce);
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(out.data(), out.data() + plaintext_len, nullptr, out.data(),
                                                     plaintext_len, ad.data(), ad.size(), nullptr, iv.data(),
                                                     state_->key.bytes().data());
}

bool SodiumChaChaPoly::open(std::uint64_t nonce, Bytes ad, Bytes ciphertext, MutableBytes out) {
  assert(ciphertext.size() >= tag_len && out.size() == ciphertext.size() - tag_len);
  const auto iv = noise_nonce(nonce);
  const std::size_t body = ciphertext.size() - tag_len;
  const int rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(out.data(), nullptr, ciphertext.data(), body,
                                                                    ciphertext.data() + body, ad.data(), ad.size(),
                                                                    iv.data(), state_->key.bytes().data());
  if (rc != 0) {
    sodium_memzero(out.data(), out.size());
    return false;
  }
  return true;
}

// ---- OpenSSL --------------------------------------------------------------------------------

struct OpenSslChaChaPoly::State {
  EVP_CIPHER_CTX* encrypt = nullptr;
  EVP_CIPHER_CTX* decrypt = nullptr;
  ~State() {
    EVP_CIPHER_CTX_free(encrypt);  // frees and cleanses the key schedule
    EVP_CIPHER_CTX_free(decrypt);
  }
};

namespace {

// The key is set once; each message only re-initialises the nonce, which is what keeps this path
// free of allocation.
EVP_CIPHER_CTX* make_context(Key32 key, bool encrypt) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr || EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), nullptr, key.data(), nullptr, encrypt ? 1 : 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    throw std::runtime_error("OpenSSL ChaCha20-Poly1305 is unavailable");
  }
  return ctx;
}

int as_int(std::size_t n) {
  assert(n <= static_cast<std::size_t>(INT_MAX));
  return static_cast<int>(n);
}

}  // namespace

OpenSslChaChaPoly::OpenSslChaChaPoly(Key32 key) : state_(std::make_unique<State>()) {
  state_->encrypt = make_context(key, true);
  state_->decrypt = make_context(key, false);
}
OpenSslChaChaPoly::~OpenSslChaChaPoly() = default;
OpenSslChaChaPoly::OpenSslChaChaPoly(OpenSslChaChaPoly&&) noexcept = default;
OpenSslChaChaPoly& OpenSslChaChaPoly::operator=(OpenSslChaChaPoly&&) noexcept = default;

void OpenSslChaChaPoly::seal(std::uint64_t nonce, Bytes ad, Bytes head, Bytes body, MutableBytes out) {
  const std::size_t plaintext_len = head.size() + body.size();
  assert(out.size() == plaintext_len + tag_len);
  EVP_CIPHER_CTX* ctx = state_->encrypt;
  const auto iv = noise_nonce(nonce);
  int len = 0;
  bool ok = EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, iv.data(), 1) == 1;
  if (!ad.empty()) ok = ok && EVP_CipherUpdate(ctx, nullptr, &len, ad.data(), as_int(ad.size())) == 1;
  // The cipher streams: the pieces go through one after the other, each straight into its place.
  if (!head.empty()) ok = ok && EVP_CipherUpdate(ctx, out.data(), &len, head.data(), as_int(head.size())) == 1;
  if (!body.empty())
    ok = ok && EVP_CipherUpdate(ctx, out.data() + head.size(), &len, body.data(), as_int(body.size())) == 1;
  ok = ok && EVP_CipherFinal_ex(ctx, out.data() + plaintext_len, &len) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, tag_len, out.data() + plaintext_len) == 1;
  // Encryption with a valid key and nonce cannot fail; if the library says otherwise, sending
  // anything would be worse than stopping.
  if (!ok) throw std::runtime_error("OpenSSL ChaCha20-Poly1305 encryption failed");
}

bool OpenSslChaChaPoly::open(std::uint64_t nonce, Bytes ad, Bytes ciphertext, MutableBytes out) {
  assert(ciphertext.size() >= tag_len && out.size() == ciphertext.size() - tag_len);
  EVP_CIPHER_CTX* ctx = state_->decrypt;
  const auto iv = noise_nonce(nonce);
  const std::size_t body = ciphertext.size() - tag_len;
  std::array<std::uint8_t, tag_len> tag{};
  std::copy(ciphertext.begin() + static_cast<std::ptrdiff_t>(body), ciphertext.end(), tag.begin());
  int len = 0;
  bool ok = EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, iv.data(), 0) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, tag_len, tag.data()) == 1;
  if (!ad.empty()) ok = ok && EVP_CipherUpdate(ctx, nullptr, &len, ad.data(), as_int(ad.size())) == 1;
  if (body != 0) ok = ok && EVP_CipherUpdate(ctx, out.data(), &len, ciphertext.data(), as_int(body)) == 1;
  ok = ok && EVP_CipherFinal_ex(ctx, out.data() + body, &len) == 1;
  if (!ok) {
    OPENSSL_cleanse(out.data(), out.size());
    return false;
  }
  return true;
}

}  // namespace mailtun::tunnel
