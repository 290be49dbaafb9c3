#include "tunnel/tai64n.hpp"

#include <gtest/gtest.h>

namespace mailtun::tunnel {
namespace {

using std::chrono::system_clock;
using namespace std::chrono_literals;

TEST(Tai64n, EncodesTheUnixEpochAsWireGuardDoes) {
  const auto t = Tai64n::from_system_time(system_clock::time_point{});
  const std::array<std::uint8_t, 12> expected = {0x40, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0};
  EXPECT_EQ(t.bytes(), expected);
}

TEST(Tai64n, EncodesSecondsBigEndianAndWhitensNanoseconds) {
  // 1700000512 s = 0x6553f300 s, plus the TAI64 offset 2^62 + 10; 123456789 ns rounds down to 7 × 2^24 = 0x07000000.
  const auto t = Tai64n::from_system_time(system_clock::time_point{1700000512s + 123456789ns});
  const std::array<std::uint8_t, 12> expected = {0x40, 0, 0, 0, 0x65, 0x53, 0xf3, 0x0a, 0x07, 0, 0, 0};
  EXPECT_EQ(t.bytes(), expected);
}

TEST(Tai64n, OrdersByTime) {
  const auto at = [](auto d) { return Tai64n::from_system_time(system_clock::time_point{d}); };
  EXPECT_LT(at(1000s), at(1001s));
  EXPECT_LT(at(1000s + 999ms), at(1001s));
  EXPECT_LT(at(1000s), at(1000s + 17ms));
  EXPECT_EQ(at(1000s), at(1000s + 16ms)) << "within one whitening interval";
  EXPECT_LT(at(255s), at(256s)) << "a carry into the next byte";
}

TEST(Tai64n, RoundTripsThroughBytes) {
  const auto t = Tai64n::from_system_time(system_clock::time_point{1234567s + 987654321ns});
  EXPECT_EQ(Tai64n::from_bytes(t.bytes()), t);
}

}  // namespace
}  // namespace mailtun::tunnel
