#include "tunnel/backoff.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace mailtun::tunnel {
namespace {

using std::chrono::milliseconds;

// u = 0.5 is the middle of [0, 1): no jitter.
constexpr double no_jitter = 0.5;

std::vector<long> delays(Backoff& backoff, int n, double u) {
  std::vector<long> out;
  for (int i = 0; i < n; ++i) out.push_back(static_cast<long>(backoff.next_delay(u).count()));
  return out;
}

TEST(Backoff, DoublesFromHalfASecondToThirtySecondsAndStaysThere) {
  Backoff backoff;
  EXPECT_EQ(delays(backoff, 10, no_jitter),
            (std::vector<long>{500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000}));
}

TEST(Backoff, NeverGivesUp) {
  Backoff backoff;
  for (int i = 0; i < 100000; ++i) backoff.next_delay(no_jitter);
  EXPECT_EQ(backoff.next_delay(no_jitter), milliseconds(30000));
}

TEST(Backoff, JitterReachesTwentyPercentEitherWay) {
  Backoff low;
  Backoff high;
  EXPECT_EQ(delays(low, 8, 0.0), (std::vector<long>{400, 800, 1600, 3200, 6400, 12800, 24000, 24000}));
  EXPECT_EQ(delays(high, 8, 1.0), (std::vector<long>{600, 1200, 2400, 4800, 9600, 19200, 36000, 36000}));
  Backoff quarter;
  EXPECT_EQ(quarter.next_delay(0.25), milliseconds(450));  // 500 × (1 − 0.1)
}

TEST(Backoff, JitterStaysWithinTwentyPercentAndActuallyVaries) {
  std::mt19937_64 rng(7);
  const long bases[] = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000};
  for (int round = 0; round < 500; ++round) {
    Backoff backoff;
    for (const long base : bases) {
      const long d = static_cast<long>(backoff.next_delay(rng).count());
      ASSERT_GE(d, base * 8 / 10) << "base " << base;
      ASSERT_LE(d, base * 12 / 10) << "base " << base;
    }
  }
  // Different random values give different delays: the jitter is not a constant.
  Backoff a;
  Backoff b;
  EXPECT_NE(a.next_delay(0.1), b.next_delay(0.9));
}

TEST(Backoff, JitterDoesNotChangeTheSchedule) {
  Backoff backoff;
  backoff.next_delay(0.0);
  backoff.next_delay(0.99);
  EXPECT_EQ(backoff.base(), milliseconds(2000));
}

TEST(Backoff, ResetReturnsToHalfASecond) {
  Backoff backoff;
  delays(backoff, 9, no_jitter);
  ASSERT_EQ(backoff.base(), milliseconds(30000));
  backoff.reset();
  EXPECT_EQ(delays(backoff, 3, no_jitter), (std::vector<long>{500, 1000, 2000}));
}

TEST(Backoff, ClampsOutOfRangeRandomValues) {
  Backoff below;
  EXPECT_EQ(below.next_delay(-5.0), milliseconds(400));
  Backoff above;
  EXPECT_EQ(above.next_delay(17.0), milliseconds(600));
  Backoff nan;
  EXPECT_EQ(nan.next_delay(std::numeric_limits<double>::quiet_NaN()), milliseconds(500));
  Backoff inf;
  EXPECT_EQ(inf.next_delay(std::numeric_limits<double>::infinity()), milliseconds(600));
}

TEST(Backoff, HonoursCustomLimits) {
  Backoff backoff(BackoffLimits{.initial = milliseconds(100), .max = milliseconds(700), .jitter = 0.0});
  EXPECT_EQ(delays(backoff, 6, 0.0), (std::vector<long>{100, 200, 400, 700, 700, 700}));
}

TEST(Backoff, RepairsNonsensicalLimits) {
  Backoff zero(BackoffLimits{.initial = milliseconds(0), .max = milliseconds(0), .jitter = -1.0});
  EXPECT_EQ(delays(zero, 3, 0.0), (std::vector<long>{1, 1, 1}));

  Backoff inverted(BackoffLimits{.initial = milliseconds(5000), .max = milliseconds(1000), .jitter = 0.2});
  EXPECT_EQ(delays(inverted, 3, no_jitter), (std::vector<long>{5000, 5000, 5000}));

  Backoff wild(BackoffLimits{.jitter = 3.0});
  EXPECT_EQ(wild.next_delay(0.0), milliseconds(250));  // jitter capped at ±50 %

  Backoff nan_jitter(BackoffLimits{.jitter = std::numeric_limits<double>::quiet_NaN()});
  EXPECT_EQ(nan_jitter.next_delay(0.0), milliseconds(500));
}

TEST(Backoff, SurvivesAHugeCeiling) {
  Backoff backoff(BackoffLimits{.initial = milliseconds(1), .max = milliseconds::max(), .jitter = 0.0});
  milliseconds previous{0};
  for (int i = 0; i < 200; ++i) {
    const milliseconds d = backoff.next_delay(no_jitter);
    ASSERT_GE(d, previous) << "step " << i;
    previous = d;
  }
}

}  // namespace
}  // namespace mailtun::tunnel
