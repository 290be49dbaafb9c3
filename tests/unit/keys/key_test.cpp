#include "keys/key.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>

namespace mailtun::keys {
namespace {

using Bytes = std::array<std::uint8_t, key_size>;

Bytes from_hex(std::string_view hex) {
  Bytes bytes{};
  std::size_t length = 0;
  EXPECT_EQ(
      sodium_hex2bin(bytes.data(), bytes.size(), hex.data(), hex.size(), nullptr, &length, nullptr),
      0);
  EXPECT_EQ(length, key_size);
  return bytes;
}

Bytes filled(std::uint8_t value) {
  Bytes bytes{};
  bytes.fill(value);
  return bytes;
}

bool equal(KeySpan a, KeySpan b) { return std::equal(a.begin(), a.end(), b.begin()); }

void expect_clamped(KeySpan key) {
  EXPECT_EQ(key[0] & 0x07, 0) << "bits 0-2 of byte 0 must be clear";
  EXPECT_EQ(key[31] & 0x80, 0) << "bit 7 of byte 31 must be clear";
  EXPECT_EQ(key[31] & 0x40, 0x40) << "bit 6 of byte 31 must be set";
}

// RFC 7748 §6.1, the Diffie-Hellman example.
constexpr std::string_view alice_private =
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
constexpr std::string_view alice_public =
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
constexpr std::string_view bob_private =
    "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
constexpr std::string_view bob_public =
    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";

TEST(Clamp, ClearsAndSetsExactlyTheX25519Bits) {
  Bytes ones = filled(0xff);
  clamp(ones);
  EXPECT_EQ(ones[0], 0xf8);
  EXPECT_EQ(ones[31], 0x7f);
  EXPECT_TRUE(std::all_of(ones.begin() + 1, ones.end() - 1, [](auto b) { return b == 0xff; }));

  Bytes zeros = filled(0x00);
  clamp(zeros);
  EXPECT_EQ(zeros[0], 0x00);
  EXPECT_EQ(zeros[31], 0x40);
  EXPECT_TRUE(std::all_of(zeros.begin(), zeros.end() - 1, [](auto b) { return b == 0x00; }));
}

TEST(PrivateKey, FromBytesClamps) {
  const PrivateKey key = PrivateKey::from_bytes(filled(0xff));
  expect_clamped(key.bytes());
}

TEST(PrivateKey, Rfc7748PublicKeys) {
  EXPECT_EQ(PrivateKey::from_bytes(from_hex(alice_private)).public_key(),
            PublicKey(from_hex(alice_public)));
  EXPECT_EQ(PrivateKey::from_bytes(from_hex(bob_private)).public_key(),
            PublicKey(from_hex(bob_public)));
}

TEST(PrivateKey, ClampingDoesNotChangeThePublicKey) {
  Bytes clamped = filled(0xff);
  clamp(clamped);
  EXPECT_EQ(PrivateKey::from_bytes(filled(0xff)).public_key(),
            PrivateKey::from_bytes(clamped).public_key());
}

TEST(PrivateKey, GeneratedKeysAreClampedAndDiffer) {
  const PrivateKey a = PrivateKey::generate();
  const PrivateKey b = PrivateKey::generate();
  expect_clamped(a.bytes());
  expect_clamped(b.bytes());
  EXPECT_FALSE(equal(a.bytes(), b.bytes()));
  EXPECT_NE(a.public_key(), b.public_key());
}

TEST(PresharedKey, DefaultIsAllZero) {
  const PresharedKey none;
  EXPECT_TRUE(equal(none.bytes(), filled(0)));
}

TEST(PresharedKey, GeneratedKeysDifferAndAreNotClamped) {
  const PresharedKey a = PresharedKey::generate();
  const PresharedKey b = PresharedKey::generate();
  EXPECT_FALSE(equal(a.bytes(), b.bytes()));
  EXPECT_TRUE(equal(PresharedKey::from_bytes(filled(0xff)).bytes(), filled(0xff)));
}

TEST(GuardedKey, MoveTransfersTheBytes) {
  GuardedKey a(filled(0x5a));
  GuardedKey b(std::move(a));
  EXPECT_TRUE(equal(b.bytes(), filled(0x5a)));
  GuardedKey c;
  c = std::move(b);
  EXPECT_TRUE(equal(c.bytes(), filled(0x5a)));
}

}  // namespace
}  // namespace mailtun::keys
