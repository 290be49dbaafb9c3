#include "cli/human_units.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace mailtun::cli {
namespace {

TEST(HumanUnits, BytesInBinaryUnits) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1024), "1.00 KiB");
  EXPECT_EQ(format_bytes(1289748), "1.23 MiB");
  EXPECT_EQ(format_bytes(1024 * 1024 - 1), "1.00 MiB");  // not "1024.00 KiB"
  EXPECT_EQ(format_bytes(4ULL << 30), "4.00 GiB");
  EXPECT_EQ(format_bytes(UINT64_MAX), "16.00 EiB");
}

TEST(HumanUnits, DurationsShowTheTwoLargestUnits) {
  EXPECT_EQ(format_duration(0.7), "0 seconds");
  EXPECT_EQ(format_duration(1), "1 second");
  EXPECT_EQ(format_duration(65.9), "1 minute, 5 seconds");
  EXPECT_EQ(format_duration(7384.5), "2 hours, 3 minutes");
  EXPECT_EQ(format_duration(3605), "1 hour");  // not "1 hour, 5 seconds": no unit is skipped
  EXPECT_EQ(format_duration(2 * 86400 + 7200 + 59), "2 days, 2 hours");
  EXPECT_EQ(format_duration(400 * 86400.0), "1 year, 35 days");
}

TEST(HumanUnits, NonsenseDurationsCountAsZero) {
  EXPECT_EQ(format_duration(-5), "0 seconds");
  EXPECT_EQ(format_duration(std::numeric_limits<double>::quiet_NaN()), "0 seconds");
  EXPECT_EQ(format_duration(std::numeric_limits<double>::infinity()), "0 seconds");
}

TEST(HumanUnits, AgesSayNeverWithoutAValue) {
  EXPECT_EQ(format_age(std::nullopt), "never");
  EXPECT_EQ(format_age(65), "1 minute, 5 seconds ago");
}

TEST(HumanUnits, MillisecondsWithOneDecimal) {
  EXPECT_EQ(format_milliseconds(0.42), "0.4 ms");
  EXPECT_EQ(format_milliseconds(153.26), "153.3 ms");
}

}  // namespace
}  // namespace mailtun::cli
