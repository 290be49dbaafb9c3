#include "tunnel/noise/cipher_state.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace mailtun::tunnel::noise {
namespace {

using ByteVector = std::vector<std::uint8_t>;
const std::array<std::uint8_t, 32> key_a{1};

TEST(CipherState, WithoutAKeyPassesPlaintextThrough) {
  CipherState cs;
  EXPECT_FALSE(cs.has_key());
  const ByteVector plain = {1, 2, 3};
  ByteVector out(3);
  ASSERT_TRUE(cs.encrypt_with_ad({}, plain, out));
  EXPECT_EQ(out, plain);
  EXPECT_EQ(cs.nonce(), 0U);
}

TEST(CipherState, NonceAdvancesPerMessageAndMustMatch) {
  CipherState sender(key_a), receiver(key_a);
  const ByteVector plain = {9};
  ByteVector first(17), second(17), out(1);
  ASSERT_TRUE(sender.encrypt_with_ad({}, plain, first));
  ASSERT_TRUE(sender.encrypt_with_ad({}, plain, second));
  EXPECT_NE(first, second) << "each message uses a new nonce";
  EXPECT_EQ(sender.nonce(), 2U);

  // Out of order: the receiver expects nonce 0 and fails on the second message ...
  auto r = receiver.decrypt_with_ad({}, second, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::decrypt_failed);
  // ... without advancing, so the first still opens.
  EXPECT_EQ(receiver.nonce(), 0U);
  ASSERT_TRUE(receiver.decrypt_with_ad({}, first, out));
  ASSERT_TRUE(receiver.decrypt_with_ad({}, second, out));
  EXPECT_EQ(out, plain);
}

TEST(CipherState, RefusesTheReservedNonce) {
  CipherState cs(key_a);
  cs.set_nonce(CipherState::max_nonce - 1);
  ByteVector out(17);
  const ByteVector plain = {1};
  ASSERT_TRUE(cs.encrypt_with_ad({}, plain, out));
  auto r = cs.encrypt_with_ad({}, plain, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::nonce_exhausted);

  CipherState receiver(key_a);
  receiver.set_nonce(CipherState::max_nonce);
  ByteVector opened(1);
  EXPECT_EQ(receiver.decrypt_with_ad({}, out, opened).error(), errc::nonce_exhausted);
}

TEST(CipherState, RejectsCiphertextShorterThanATag) {
  CipherState cs(key_a);
  ByteVector out;
  EXPECT_EQ(cs.decrypt_with_ad({}, ByteVector(15), out).error(), errc::record_too_short);
}

TEST(CipherState, RekeyChangesTheKeyButNotTheNonce) {
  CipherState a(key_a), b(key_a);
  b.set_nonce(5);
  a.set_nonce(5);
  a.rekey();
  EXPECT_EQ(a.nonce(), 5U);
  const ByteVector plain = {7, 7};
  ByteVector from_a(18), from_b(18);
  ASSERT_TRUE(a.encrypt_with_ad({}, plain, from_a));
  ASSERT_TRUE(b.encrypt_with_ad({}, plain, from_b));
  EXPECT_NE(from_a, from_b);
  b.set_nonce(5);
  b.rekey();
  ByteVector opened(2);
  ASSERT_TRUE(b.decrypt_with_ad({}, from_a, opened));
  EXPECT_EQ(opened, plain);
}

}  // namespace
}  // namespace mailtun::tunnel::noise
