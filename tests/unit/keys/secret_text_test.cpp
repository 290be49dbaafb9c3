#include "keys/secret_text.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <string>
#include <system_error>
#include <thread>

namespace mailtun::keys {
namespace {

// Feeds `input` from another thread (it may exceed the socket's buffer) and reads it. A socket pair
// rather than a pipe, so that MSG_NOSIGNAL spares the writer a SIGPIPE when the reader stops early.
SecretText read_through_socket(const std::string& input,
                               tl::expected<void, std::error_code>& result) {
  std::array<int, 2> fds{};
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds.data()), 0);
  std::thread writer([&] {
    std::size_t done = 0;
    while (done < input.size()) {
      const ssize_t n = ::send(fds[1], input.data() + done, input.size() - done, MSG_NOSIGNAL);
      if (n <= 0) break;  // the reader stopped early and closed its end
      done += static_cast<std::size_t>(n);
    }
    ::close(fds[1]);
  });
  SecretText text;
  result = text.read_all(fds[0]);
  ::close(fds[0]);
  writer.join();
  return text;
}

TEST(SecretText, StartsEmpty) { EXPECT_TRUE(SecretText().view().empty()); }

TEST(SecretText, ReadsUntilEndOfFile) {
  tl::expected<void, std::error_code> result;
  const SecretText text = read_through_socket("line one\nline two\n", result);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(text.view(), "line one\nline two\n");
}

TEST(SecretText, HoldsExactlyItsCapacity) {
  tl::expected<void, std::error_code> result;
  const std::string input(SecretText::capacity, 'k');
  const SecretText text = read_through_socket(input, result);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(text.view(), input);
}

TEST(SecretText, RefusesMoreThanItsCapacity) {
  tl::expected<void, std::error_code> result;
  const SecretText text = read_through_socket(std::string(SecretText::capacity * 3, 'k'), result);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), std::errc::file_too_large);
  EXPECT_EQ(text.view().size(), SecretText::capacity);
}

TEST(SecretText, ReportsReadErrors) {
  SecretText text;
  const auto result = text.read_all(-1);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), std::errc::bad_file_descriptor);
}

TEST(SecretText, MoveTransfersTheText) {
  tl::expected<void, std::error_code> result;
  SecretText a = read_through_socket("abc", result);
  SecretText b(std::move(a));
  EXPECT_EQ(b.view(), "abc");
  SecretText c;
  c = std::move(b);
  EXPECT_EQ(c.view(), "abc");
}

}  // namespace
}  // namespace mailtun::keys
