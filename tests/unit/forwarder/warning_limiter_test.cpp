// Review finding "unknown-service warnings are not rate-limited": one line per peer per period.

#include "forwarder/warning_limiter.hpp"

#include <gtest/gtest.h>

namespace mailtun::forwarder {
namespace {

using namespace std::chrono_literals;

TEST(WarningLimiter, OneLinePerPeerPerPeriodThenTheCountLeftOut) {
  WarningLimiter limiter(60s);
  const WarningLimiter::TimePoint start{};
  EXPECT_EQ(limiter.allow(0, start), 0U);
  for (int i = 1; i <= 1000; ++i) EXPECT_EQ(limiter.allow(0, start + std::chrono::milliseconds(i)), std::nullopt);
  EXPECT_EQ(limiter.allow(0, start + 59s), std::nullopt);
  EXPECT_EQ(limiter.allow(0, start + 60s), 1001U);
  EXPECT_EQ(limiter.allow(0, start + 61s), std::nullopt);
  EXPECT_EQ(limiter.allow(0, start + 120s), 1U);
}

TEST(WarningLimiter, PeersAreCountedApart) {
  WarningLimiter limiter(60s);
  const WarningLimiter::TimePoint start{};
  EXPECT_EQ(limiter.allow(0, start), 0U);
  EXPECT_EQ(limiter.allow(1, start), 0U);
  EXPECT_EQ(limiter.allow(0, start + 1s), std::nullopt);
}

TEST(WarningLimiter, TimeGoingBackwardsLogsNothingMore) {
  WarningLimiter limiter(60s);
  const WarningLimiter::TimePoint start = WarningLimiter::TimePoint{} + 1000s;
  EXPECT_EQ(limiter.allow(0, start), 0U);
  EXPECT_EQ(limiter.allow(0, start - 500s), std::nullopt);
}

}  // namespace
}  // namespace mailtun::forwarder
