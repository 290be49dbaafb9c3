#include "cli/private_memory.hpp"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace mailtun::cli {
namespace {

// In a child, so that this test process stays as it was.
TEST(PrivateMemory, TheProcessBecomesNonDumpable) {
  ASSERT_EQ(prctl(PR_GET_DUMPABLE), 1) << "the test starts from a dumpable process";
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    keep_memory_private();
    _exit(prctl(PR_GET_DUMPABLE) == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "still dumpable";
}

}  // namespace
}  // namespace mailtun::cli
