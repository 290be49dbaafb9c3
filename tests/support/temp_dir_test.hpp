#pragma once
// A test fixture with a directory of its own, for tests that put configurations, keys and sockets
// in real files.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace mailtun::testing {

/// Makes `dir_` (mode 0700, under $TMPDIR or /tmp) before SetUp() and removes it with everything in
/// it after TearDown(), so a derived fixture may still use it in its own TearDown(). Its name
/// carries the test suite's, so a leftover one says whose it was. Throws std::system_error if the
/// directory cannot be made, which fails the test.
class TempDirTest : public ::testing::Test {
 protected:
  TempDirTest() : dir_(make_directory()) {}
  ~TempDirTest() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  /// Writes `text` to `name` in the directory, replacing what was there, with exactly `mode` (set by
  /// fchmod, so the umask plays no part); returns its path.
  std::filesystem::path write_file(const std::string& name, std::string_view text, mode_t mode = 0600) const {
    const std::filesystem::path path = dir_ / name;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0) << path << ": " << std::strerror(errno);
    EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size())) << path;
    EXPECT_EQ(::fchmod(fd, mode), 0) << path;
    ::close(fd);
    return path;
  }

  const std::filesystem::path dir_;

 private:
  static std::filesystem::path make_directory() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string suite = test != nullptr ? test->test_suite_name() : "test";
    std::replace(suite.begin(), suite.end(), '/', '-');  // a parameterised suite is "Prefix/Suite"
    std::string pattern = (std::filesystem::temp_directory_path() / ("mailtun-" + suite + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    return pattern;
  }
};

}  // namespace mailtun::testing
