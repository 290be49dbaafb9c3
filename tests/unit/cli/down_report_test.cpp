#include "cli/down_report.hpp"

#include <gtest/gtest.h>

namespace mailtun::cli {
namespace {

using namespace std::chrono_literals;

TEST(DownReport, ComesAfterOneFiveFifteenAndSixtyMinutesThenHourly) {
  EXPECT_EQ(down_report_due(0), 1min);
  EXPECT_EQ(down_report_due(1), 5min);
  EXPECT_EQ(down_report_due(2), 15min);
  EXPECT_EQ(down_report_due(3), 60min);
  EXPECT_EQ(down_report_due(4), 120min);
  EXPECT_EQ(down_report_due(5), 180min);
}

TEST(DownReport, DescribesDurationsInWords) {
  EXPECT_EQ(describe_duration(0s), "0 seconds");
  EXPECT_EQ(describe_duration(1s), "1 second");
  EXPECT_EQ(describe_duration(60s), "1 minute");
  EXPECT_EQ(describe_duration(15min + 20s), "15 minutes");
  EXPECT_EQ(describe_duration(1h), "1 hour");
  EXPECT_EQ(describe_duration(2h + 1min), "2 hours 1 minute");
}

}  // namespace
}  // namespace mailtun::cli
