#include "tunnel/handshake_limiter.hpp"

#include <gtest/gtest.h>

namespace mailtun::tunnel {
namespace {

using namespace std::chrono_literals;
using TimePoint = HandshakeLimiter::TimePoint;

const TimePoint t0 = TimePoint{} + 1h;

SourceKey v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) { return SourceKey::ipv4({a, b, c, d}); }

// A distinct IPv4 source for each n.
SourceKey nth(std::uint32_t n) {
  return v4(static_cast<std::uint8_t>(10 + (n >> 24)), static_cast<std::uint8_t>(n >> 16),
            static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n));
}

int allowed_in_a_row(HandshakeLimiter& limiter, const SourceKey& source, TimePoint now, int attempts) {
  int n = 0;
  for (int i = 0; i < attempts; ++i) n += limiter.allow(source, now) ? 1 : 0;
  return n;
}

TEST(HandshakeLimiter, AllowsABurstOfTenThenDrops) {
  HandshakeLimiter limiter;
  const auto source = v4(192, 0, 2, 1);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter.allow(source, t0)) << i;
  EXPECT_FALSE(limiter.allow(source, t0));
  EXPECT_FALSE(limiter.allow(source, t0 + 199ms));
}

TEST(HandshakeLimiter, RefillsAtFivePerSecond) {
  HandshakeLimiter limiter;
  const auto source = v4(192, 0, 2, 1);
  ASSERT_EQ(allowed_in_a_row(limiter, source, t0, 10), 10);
  EXPECT_FALSE(limiter.allow(source, t0 + 199ms));
  EXPECT_TRUE(limiter.allow(source, t0 + 200ms));
  EXPECT_FALSE(limiter.allow(source, t0 + 200ms));
  // One second later: five more, not six.
  EXPECT_EQ(allowed_in_a_row(limiter, source, t0 + 1200ms, 10), 5);
}

TEST(HandshakeLimiter, APeriodOfAMinuteAllowsOnePerMinute) {
  // As the endpoint uses it for warnings about refused handshakes: one line per source per minute.
  HandshakeLimiter limiter({.per_second = 1, .burst = 1, .period = 60s});
  const auto source = v4(192, 0, 2, 1);
  EXPECT_TRUE(limiter.allow(source, t0));
  EXPECT_FALSE(limiter.allow(source, t0 + 59s));
  EXPECT_TRUE(limiter.allow(source, t0 + 60s));
  EXPECT_TRUE(limiter.allow(v4(192, 0, 2, 2), t0 + 60s)) << "another source has its own minute";
}

TEST(HandshakeLimiter, SustainedFloodGetsExactlyTheRate) {
  HandshakeLimiter limiter;
  const auto source = v4(198, 51, 100, 7);
  int allowed = 0;
  // 100 attempts a second for 10 s: the burst of 10 (2 s of credit) plus 5/s over 9.99 s.
  for (int ms = 0; ms < 10000; ms += 10) allowed += limiter.allow(source, t0 + std::chrono::milliseconds(ms)) ? 1 : 0;
  EXPECT_EQ(allowed, 59);  // floor((2 s + 9.99 s) / 200 ms)
}

TEST(HandshakeLimiter, DroppedAttemptsCostNothing) {
  HandshakeLimiter limiter;
  const auto source = v4(192, 0, 2, 1);
  ASSERT_EQ(allowed_in_a_row(limiter, source, t0, 10), 10);
  for (int ms = 1; ms < 200; ++ms) ASSERT_FALSE(limiter.allow(source, t0 + std::chrono::milliseconds(ms)));
  EXPECT_TRUE(limiter.allow(source, t0 + 200ms));
}

TEST(HandshakeLimiter, AQuietSourceRegainsOnlyItsBurst) {
  HandshakeLimiter limiter;
  const auto source = v4(192, 0, 2, 1);
  ASSERT_EQ(allowed_in_a_row(limiter, source, t0, 10), 10);
  EXPECT_EQ(allowed_in_a_row(limiter, source, t0 + 24h, 20), 10);
}

TEST(HandshakeLimiter, SourcesHaveSeparateBuckets) {
  HandshakeLimiter limiter;
  ASSERT_EQ(allowed_in_a_row(limiter, v4(192, 0, 2, 1), t0, 11), 10);
  EXPECT_EQ(allowed_in_a_row(limiter, v4(192, 0, 2, 2), t0, 11), 10);
  EXPECT_FALSE(limiter.allow(v4(192, 0, 2, 1), t0));
}

TEST(HandshakeLimiter, Ipv6AddressesInOneSlash64ShareABucket) {
  HandshakeLimiter limiter;
  std::array<std::uint8_t, 16> a = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2};
  for (int i = 0; i < 10; ++i) {
    a[15] = static_cast<std::uint8_t>(i);  // a fresh interface id each time
    a[8] = static_cast<std::uint8_t>(i * 17);
    ASSERT_TRUE(limiter.allow(SourceKey::ipv6(a), t0)) << i;
  }
  a[15] = 0xee;
  EXPECT_FALSE(limiter.allow(SourceKey::ipv6(a), t0)) << "same /64";
  a[7] = 3;  // 2001:db8:1:3::/64
  EXPECT_TRUE(limiter.allow(SourceKey::ipv6(a), t0)) << "the neighbouring /64";
}

TEST(HandshakeLimiter, Ipv4MappedIpv6IsTheIpv4Source) {
  const std::array<std::uint8_t, 16> mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
  EXPECT_EQ(SourceKey::ipv6(mapped), v4(192, 0, 2, 1));
  HandshakeLimiter limiter;
  ASSERT_EQ(allowed_in_a_row(limiter, v4(192, 0, 2, 1), t0, 10), 10);
  EXPECT_FALSE(limiter.allow(SourceKey::ipv6(mapped), t0));
}

TEST(HandshakeLimiter, KeysDistinguishFamiliesAndAddresses) {
  // An IPv6 /64 whose first bytes spell an IPv4 address is a different source.
  const std::array<std::uint8_t, 16> look_alike = {192, 0, 2, 1};
  EXPECT_NE(SourceKey::ipv6(look_alike), v4(192, 0, 2, 1));
  EXPECT_NE(v4(192, 0, 2, 1), v4(192, 0, 2, 2));
  EXPECT_NE(v4(192, 0, 2, 1), v4(1, 2, 0, 192));
  // Not ::ffff:…, so not IPv4.
  const std::array<std::uint8_t, 16> almost = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 192, 0, 2, 1};
  EXPECT_NE(SourceKey::ipv6(almost), v4(192, 0, 2, 1));
}

TEST(HandshakeLimiter, TimeGoingBackwardsGivesNoCredit) {
  HandshakeLimiter limiter;
  const auto source = v4(192, 0, 2, 1);
  ASSERT_EQ(allowed_in_a_row(limiter, source, t0 + 10s, 10), 10);
  EXPECT_FALSE(limiter.allow(source, t0));
  EXPECT_FALSE(limiter.allow(source, t0 + 10s + 199ms)) << "the earlier call must not have moved the clock back";
  EXPECT_TRUE(limiter.allow(source, t0 + 10s + 200ms));
}

TEST(HandshakeLimiter, HonoursConfiguredRateAndBurst) {
  HandshakeLimiter limiter(HandshakeLimits{.per_second = 2, .burst = 3});
  const auto source = v4(192, 0, 2, 1);
  EXPECT_EQ(allowed_in_a_row(limiter, source, t0, 5), 3);
  EXPECT_FALSE(limiter.allow(source, t0 + 499ms));
  EXPECT_TRUE(limiter.allow(source, t0 + 500ms));
}

TEST(HandshakeLimiter, ZeroLimitsStillLetOneHandshakeThrough) {
  HandshakeLimiter limiter(HandshakeLimits{.per_second = 0, .burst = 0, .max_sources = 0});
  const auto source = v4(192, 0, 2, 1);
  EXPECT_TRUE(limiter.allow(source, t0));
  EXPECT_FALSE(limiter.allow(source, t0 + 999ms));
  EXPECT_TRUE(limiter.allow(source, t0 + 1s));
  EXPECT_EQ(limiter.tracked_sources(), 1u);
}

TEST(HandshakeLimiter, TableNeverExceedsItsCapUnderAFloodOfSources) {
  HandshakeLimiter limiter;
  for (std::uint32_t n = 0; n < 100000; ++n) {
    limiter.allow(nth(n), t0 + std::chrono::microseconds(n));
    ASSERT_LE(limiter.tracked_sources(), 4096u);
  }
  EXPECT_EQ(limiter.tracked_sources(), 4096u);
}

TEST(HandshakeLimiter, WhenFullOfActiveSourcesANewSourceIsRefused) {
  HandshakeLimiter limiter(HandshakeLimits{.max_sources = 4});
  for (std::uint32_t n = 0; n < 4; ++n) ASSERT_TRUE(limiter.allow(nth(n), t0));
  EXPECT_FALSE(limiter.allow(nth(4), t0));
  EXPECT_FALSE(limiter.allow(nth(4), t0 + 199ms)) << "no bucket is full yet";
  EXPECT_EQ(limiter.tracked_sources(), 4u);
  // Known sources keep being served meanwhile.
  EXPECT_TRUE(limiter.allow(nth(0), t0 + 100ms));
}

TEST(HandshakeLimiter, AFloodOfNewSourcesCannotWipeADrainedSourcesDebt) {
  HandshakeLimiter limiter(HandshakeLimits{.max_sources = 8});
  const auto attacker = v4(203, 0, 113, 66);
  ASSERT_EQ(allowed_in_a_row(limiter, attacker, t0, 10), 10);
  for (std::uint32_t n = 0; n < 10000; ++n) limiter.allow(nth(n), t0 + 100ms);
  EXPECT_FALSE(limiter.allow(attacker, t0 + 150ms)) << "forgetting it would hand it a fresh burst";
  EXPECT_EQ(limiter.tracked_sources(), 8u);
}

TEST(HandshakeLimiter, FullBucketsMakeRoomForNewSources) {
  HandshakeLimiter limiter(HandshakeLimits{.max_sources = 4});
  for (std::uint32_t n = 0; n < 4; ++n) ASSERT_TRUE(limiter.allow(nth(n), t0));
  // Sources 1–3 keep handshaking; source 0 goes quiet and refills in 200 ms.
  for (std::uint32_t n = 1; n < 4; ++n) ASSERT_TRUE(limiter.allow(nth(n), t0 + 150ms));
  EXPECT_FALSE(limiter.allow(nth(4), t0 + 199ms));
  EXPECT_TRUE(limiter.allow(nth(4), t0 + 200ms)) << "source 0's bucket is full and can be forgotten";
  EXPECT_EQ(limiter.tracked_sources(), 4u);
  // Only the full bucket went: source 1 still carries its debt (2 handshakes, 1.8 s of credit left
  // after refilling, so 9 more, not 10).
  EXPECT_EQ(allowed_in_a_row(limiter, nth(1), t0 + 200ms, 12), 9);
}

TEST(HandshakeLimiter, RoomIsFoundAgainAfterTheEarliestRefillMovesLater) {
  HandshakeLimiter limiter(HandshakeLimits{.max_sources = 2});
  const auto a = nth(0), b = nth(1), c = nth(2), d = nth(3);
  ASSERT_TRUE(limiter.allow(a, t0));          // full again at t0 + 200 ms
  ASSERT_TRUE(limiter.allow(b, t0));          // full again at t0 + 200 ms
  EXPECT_FALSE(limiter.allow(c, t0 + 100ms));
  ASSERT_TRUE(limiter.allow(a, t0 + 150ms));  // a is now full at t0 + 400 ms
  EXPECT_FALSE(limiter.allow(c, t0 + 199ms));
  EXPECT_TRUE(limiter.allow(c, t0 + 200ms)) << "b is full";
  EXPECT_FALSE(limiter.allow(d, t0 + 210ms)) << "a and c refill at t0 + 400 ms";
  EXPECT_FALSE(limiter.allow(d, t0 + 399ms));
  EXPECT_TRUE(limiter.allow(d, t0 + 400ms)) << "a and c are full; only d is left";
  const auto e = nth(4), f = nth(5);
  EXPECT_TRUE(limiter.allow(e, t0 + 410ms)) << "there is room";
  EXPECT_FALSE(limiter.allow(f, t0 + 599ms));
  EXPECT_TRUE(limiter.allow(f, t0 + 600ms)) << "d, added after the last scan, is full";
}

// A flood from many addresses (an IPv6 /52 is 4096 sources of /64) fills the table with refilling
// buckets; a peer's address it has completed a handshake from still gets in.
TEST(HandshakeLimiter, AProvenSourceIsAdmittedWhenTheTableIsFull) {
  HandshakeLimiter limiter(HandshakeLimits{.max_sources = 4});
  for (std::uint32_t n = 0; n < 4; ++n) ASSERT_EQ(allowed_in_a_row(limiter, nth(n), t0, 10 - n), 10 - n);
  const auto peer = v4(198, 51, 100, 7);
  EXPECT_FALSE(limiter.allow(peer, t0 + 10ms)) << "unproven, it waits like any newcomer";
  EXPECT_TRUE(limiter.allow(peer, t0 + 10ms, true));
  EXPECT_EQ(limiter.tracked_sources(), 4u);
  // The bucket forgotten was the one nearest to full, nth(3) (7 handshakes); the most indebted
  // flood source, nth(0), is still refused.
  EXPECT_FALSE(limiter.allow(nth(0), t0 + 10ms));
  EXPECT_FALSE(limiter.allow(nth(3), t0 + 10ms))
      << "with 3 handshakes of credit it would pass, had it not been forgotten for the peer";
}

TEST(HandshakeLimiter, AProvenSourceIsStillRateLimited) {
  HandshakeLimiter limiter(HandshakeLimits{.max_sources = 4});
  for (std::uint32_t n = 0; n < 4; ++n) ASSERT_TRUE(limiter.allow(nth(n), t0));
  const auto peer = v4(198, 51, 100, 7);
  int allowed = 0;
  for (int i = 0; i < 20; ++i) allowed += limiter.allow(peer, t0, true) ? 1 : 0;
  EXPECT_EQ(allowed, 10) << "its burst, then it waits for its bucket like everyone";
}

}  // namespace
}  // namespace mailtun::tunnel
