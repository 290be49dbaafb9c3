#pragma once
// Writing a command's whole output to a file descriptor: the process's stdout or stderr, or a pipe
// when a test runs the command in-process.

#include <string_view>
#include <system_error>

#include "cli/command_error.hpp"

namespace mailtun::cli {

/// Writes all of `text` to `fd`, going on after writes that a signal interrupts or that take only
/// part of it. Returns the error of the write that failed, or an empty error code.
[[nodiscard]] std::error_code write_all(int fd, std::string_view text) noexcept;

/// The failure of a command's write: exit code 1, "mailtun COMMAND: cannot write TARGET: REASON",
/// where TARGET is e.g. "to stdout".
[[nodiscard]] CommandError write_error(std::string_view command, std::string_view target, std::error_code error);

/// write_all for a command's output; a failed write throws write_error(command, target, …).
void write_output(int fd, std::string_view text, std::string_view command, std::string_view target = "to stdout");

}  // namespace mailtun::cli
