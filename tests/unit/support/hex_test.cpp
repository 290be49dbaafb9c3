// The hex helpers that the unit tests and the Noise vector runner read test vectors with.

#include "tests/support/hex.hpp"

#include <gtest/gtest.h>

namespace mailtun::testing {
namespace {

// Finding of the sanitizer build (UBSan: "null pointer passed as argument 1, which is declared to
// never be null" in unhex): empty hex, as in the BLAKE2 answers for empty input and the Noise
// vectors' empty payloads, passed the null data() of an empty vector to sodium_hex2bin. Under
// -DMAILTUN_SANITIZE=ON this test aborts without the fix.
TEST(Hex, EmptyTextIsNoBytes) {
  EXPECT_TRUE(unhex("").empty());
  EXPECT_EQ(hex({}), "");
}

TEST(Hex, RoundTripsBytes) {
  EXPECT_EQ(unhex("00ff10"), (std::vector<std::uint8_t>{0x00, 0xff, 0x10}));
  EXPECT_EQ(hex(unhex("00ff10")), "00ff10");
  EXPECT_THROW(unhex("0"), std::invalid_argument);
  EXPECT_THROW(unhex("zz"), std::invalid_argument);
}

}  // namespace
}  // namespace mailtun::testing
