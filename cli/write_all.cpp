#include "cli/write_all.hpp"

#include <unistd.h>

#include <cerrno>
#include <string>

namespace mailtun::cli {

std::error_code write_all(int fd, std::string_view text) noexcept {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return {errno, std::generic_category()};
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

CommandError write_error(std::string_view command, std::string_view target, std::error_code error) {
  return {ExitCode::failure,
          "mailtun " + std::string(command) + ": cannot write " + std::string(target) + ": " + error.message()};
}

void write_output(int fd, std::string_view text, std::string_view command, std::string_view target) {
  if (const std::error_code error = write_all(fd, text)) throw write_error(command, target, error);
}

}  // namespace mailtun::cli
