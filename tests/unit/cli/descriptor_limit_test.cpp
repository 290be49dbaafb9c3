// `mailtun up` raises its soft limit of open files to the hard limit (a VPS with 1000 offices holds
// over 2000 sockets), and reports what it was.

#include "cli/descriptor_limit.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace mailtun::cli {
namespace {

TEST(DescriptorLimit, TheSoftLimitIsRaisedToTheHardLimit) {
  rlimit original{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original), 0);
  if (original.rlim_max < 2) GTEST_SKIP() << "SKIPPED: the hard limit leaves no room to lower the soft one";
  rlimit lowered = original;
  lowered.rlim_cur = original.rlim_max / 2;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);

  const auto raised = raise_descriptor_limit();
  rlimit after{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
  ::setrlimit(RLIMIT_NOFILE, &original);
  ASSERT_TRUE(raised);
  EXPECT_EQ(raised->before, lowered.rlim_cur);
  EXPECT_EQ(raised->now, original.rlim_max);
  EXPECT_EQ(after.rlim_cur, original.rlim_max);
}

}  // namespace
}  // namespace mailtun::cli
