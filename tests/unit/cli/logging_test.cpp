#include "cli/logging.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>

namespace mailtun::cli {
namespace {

TEST(Logging, LevelNamesIncludeWhatTheLogLinesPrint) {
  EXPECT_EQ(normalise_log_level("warning"), "warning");
  EXPECT_EQ(normalise_log_level("warn"), "warning");
  EXPECT_EQ(normalise_log_level("error"), "error");
  EXPECT_EQ(normalise_log_level("err"), "error");
  EXPECT_EQ(normalise_log_level("critical"), "critical");
  EXPECT_EQ(normalise_log_level("debug"), "debug");
  EXPECT_FALSE(normalise_log_level("verbose"));
  EXPECT_FALSE(normalise_log_level("WARNING"));
}

/// Sets JOURNAL_STREAM for one test and restores it after.
class JournalStream {
 public:
  explicit JournalStream(const std::string& value) {
    if (const char* old = std::getenv("JOURNAL_STREAM")) old_ = old;
    ::setenv("JOURNAL_STREAM", value.c_str(), 1);
  }
  ~JournalStream() {
    if (old_) {
      ::setenv("JOURNAL_STREAM", old_->c_str(), 1);
    } else {
      ::unsetenv("JOURNAL_STREAM");
    }
  }
  JournalStream(const JournalStream&) = delete;
  JournalStream& operator=(const JournalStream&) = delete;

 private:
  std::optional<std::string> old_;
};

TEST(Logging, StderrIsTheJournalOnlyWhenJournalStreamNamesIt) {
  struct stat status {};
  ASSERT_EQ(::fstat(2, &status), 0);
  {
    JournalStream env(std::to_string(status.st_dev) + ":" + std::to_string(status.st_ino));
    EXPECT_TRUE(stderr_is_journal());
  }
  {
    // Inherited by a process whose stderr goes elsewhere: not the journal.
    JournalStream env(std::to_string(status.st_dev) + ":" + std::to_string(status.st_ino + 1));
    EXPECT_FALSE(stderr_is_journal());
  }
  {
    JournalStream env("garbage");
    EXPECT_FALSE(stderr_is_journal());
  }
}

}  // namespace
}  // namespace mailtun::cli
