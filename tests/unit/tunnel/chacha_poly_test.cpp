#include "tunnel/chacha_poly.hpp"

#include <gtest/gtest.h>

#include "tests/support/hex.hpp"
#include <sodium.h>

#include <array>
#include <string>
#include <vector>

namespace mailtun::tunnel {
namespace {

using ByteVector = std::vector<std::uint8_t>;
using mailtun::testing::unhex;

// RFC 8439 §2.8.2: the AEAD test vector. Its nonce is 07000000 4041424344454647, which is not the
// Noise layout (4 zero bytes ‖ counter), so it is checked against libsodium directly, and the Noise
// layout is checked below by comparing the backends with an explicit nonce.
TEST(ChaChaPoly, BackendsAgreeWithEachOtherAndWithTheNoiseNonceLayout) {
  std::array<std::uint8_t, 32> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(0x80 + i);
  const std::string text = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip";
  const ByteVector plaintext(text.begin(), text.end());
  const ByteVector ad = unhex("50515253c0c1c2c3c4c5c6c7");

  for (const std::uint64_t counter : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{0x0102030405060708}}) {
    ByteVector via_sodium(plaintext.size() + 16), via_openssl(plaintext.size() + 16), reference(plaintext.size() + 16);
    SodiumChaChaPoly(key).seal(counter, ad, plaintext, via_sodium);
    OpenSslChaChaPoly(key).seal(counter, ad, plaintext, via_openssl);

    // Independent computation: nonce = 4 zero bytes ‖ counter little-endian.
    std::array<std::uint8_t, 12> nonce{};
    for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<std::uint8_t>(counter >> (8 * i));
    unsigned long long len = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(reference.data(), &len, plaintext.data(), plaintext.size(), ad.data(),
                                              ad.size(), nullptr, nonce.data(), key.data());
    EXPECT_EQ(via_sodium, reference) << "counter " << counter;
    EXPECT_EQ(via_openssl, reference) << "counter " << counter;
  }
}

template <typename Cipher>
class ChaChaPolyBackend : public ::testing::Test {};
using Backends = ::testing::Types<SodiumChaChaPoly, OpenSslChaChaPoly>;
TYPED_TEST_SUITE(ChaChaPolyBackend, Backends);

TYPED_TEST(ChaChaPolyBackend, RoundTripsInPlaceAndRejectsEveryFlippedBit) {
  std::array<std::uint8_t, 32> key{};
  key[0] = 1;
  TypeParam cipher(key);
  ByteVector buffer = {'h', 'e', 'l', 'l', 'o', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const ByteVector plain(buffer.begin(), buffer.begin() + 5);
  cipher.seal(7, {}, std::span(buffer).first(5), buffer);
  const ByteVector sealed = buffer;
  EXPECT_NE(ByteVector(sealed.begin(), sealed.begin() + 5), plain);

  ByteVector opened(5);
  ASSERT_TRUE(cipher.open(7, {}, sealed, opened));
  EXPECT_EQ(opened, plain);
  EXPECT_FALSE(cipher.open(8, {}, sealed, opened)) << "wrong nonce must fail";
  const std::uint8_t ad = 1;
  EXPECT_FALSE(cipher.open(7, Bytes(&ad, 1), sealed, opened)) << "wrong associated data must fail";

  for (std::size_t bit = 0; bit < sealed.size() * 8; ++bit) {
    ByteVector corrupt = sealed;
    corrupt[bit / 8] ^= static_cast<std::uint8_t>(1U << (bit % 8));
    ByteVector out(5, 0xaa);
    EXPECT_FALSE(cipher.open(7, {}, corrupt, out)) << "bit " << bit;
    EXPECT_EQ(out, ByteVector(5, 0)) << "a failed open must not leave plaintext behind";
  }

  // In-place open.
  ASSERT_TRUE(cipher.open(7, {}, buffer, std::span(buffer).first(5)));
  EXPECT_EQ(ByteVector(buffer.begin(), buffer.begin() + 5), plain);
}

// A frame header and its payload are sealed as two pieces (RecordEncoder::seal(head, body)): the
// result must be the seal of their concatenation wherever the cut falls, including inside a ChaCha20
// block and with the body already in place.
TYPED_TEST(ChaChaPolyBackend, ASealInTwoPiecesIsTheSealOfTheirConcatenation) {
  std::array<std::uint8_t, 32> key{};
  key[5] = 9;
  TypeParam cipher(key);
  ByteVector plaintext(65519);
  for (std::size_t i = 0; i < plaintext.size(); ++i) plaintext[i] = static_cast<std::uint8_t>(i * 31 + 7);
  const ByteVector ad = {1, 2, 3};
  for (const std::size_t total : {std::size_t{1}, std::size_t{200}, plaintext.size()}) {
    const Bytes whole = Bytes(plaintext).first(total);
    ByteVector reference(total + 16);
    cipher.seal(42, ad, whole, reference);
    for (const std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{63}, std::size_t{64},
                                  std::size_t{65}, total}) {
      if (cut > total) continue;
      ByteVector pieces(total + 16);
      cipher.seal(42, ad, whole.first(cut), whole.subspan(cut), pieces);
      EXPECT_EQ(pieces, reference) << "total " << total << ", cut at " << cut;

      ByteVector in_place(total + 16);
      std::copy(whole.begin() + static_cast<std::ptrdiff_t>(cut), whole.end(), in_place.begin() + static_cast<std::ptrdiff_t>(cut));
      cipher.seal(42, ad, whole.first(cut), Bytes(in_place).subspan(cut, total - cut), in_place);
      EXPECT_EQ(in_place, reference) << "body in place; total " << total << ", cut at " << cut;
    }
  }
}

TYPED_TEST(ChaChaPolyBackend, EmptyPlaintextIsJustATag) {
  std::array<std::uint8_t, 32> key{};
  TypeParam cipher(key);
  ByteVector tag(16);
  cipher.seal(0, {}, {}, tag);
  EXPECT_NE(tag, ByteVector(16, 0));
  MutableBytes nothing;
  EXPECT_TRUE(cipher.open(0, {}, tag, nothing));
  tag[3] ^= 1;
  EXPECT_FALSE(cipher.open(0, {}, tag, nothing));
}

}  // namespace
}  // namespace mailtun::tunnel
