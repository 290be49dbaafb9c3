#pragma once
// Runs a subcommand in-process, as main() would, with pipes in place of stdin, stdout and stderr,
// and hands back what it wrote and how it ended.

#include <gtest/gtest.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli/command_error.hpp"
#include "cli/commands.hpp"

namespace mailtun::testing {

/// A pipe whose read end is drained on a thread of its own, so a command may write any amount.
class Capture {
 public:
  Capture() {
    EXPECT_EQ(::pipe(fds_.data()), 0);
    reader_ = std::thread([this] {
      std::array<char, 4096> buffer{};
      ssize_t n = 0;
      while ((n = ::read(fds_[0], buffer.data(), buffer.size())) > 0)
        text_.append(buffer.data(), static_cast<std::size_t>(n));
    });
  }
  ~Capture() {
    (void)text();
    ::close(fds_[0]);
  }
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  [[nodiscard]] int writer() const { return fds_[1]; }

  /// Closes the write end and returns everything written to it.
  std::string text() {
    if (fds_[1] >= 0) {
      ::close(std::exchange(fds_[1], -1));
      reader_.join();
    }
    return text_;
  }

 private:
  std::array<int, 2> fds_{-1, -1};
  std::thread reader_;
  std::string text_;
};

/// How a command ended: what it wrote, and the exit code and message if it failed.
struct CommandResult {
  std::string out;
  std::string err;
  std::optional<cli::ExitCode> failure;  // set if the command threw CommandError or the arguments did not parse
  std::string message;
};

/// Adds the command(s) under test to `app`, writing to `io`.
using RegisterCommand = std::function<void(CLI::App&, cli::Io)>;

/// What a run reads and where its stdout goes.
struct CommandInput {
  std::string stdin_text;  // written to a pipe before the command runs; it must fit the pipe's buffer
  int out_fd = -1;         // if set, the command's stdout instead of a pipe (out is then empty)
};

namespace detail {

inline CommandResult run_parsed(const RegisterCommand& register_command, const CommandInput& input,
                                const std::function<void(CLI::App&)>& parse) {
  std::array<int, 2> in{-1, -1};
  EXPECT_EQ(::pipe(in.data()), 0);
  EXPECT_EQ(::write(in[1], input.stdin_text.data(), input.stdin_text.size()),
            static_cast<ssize_t>(input.stdin_text.size()));
  ::close(in[1]);

  Capture out;
  Capture err;
  CLI::App app{"mailtun", "mailtun"};
  register_command(app, cli::Io{in[0], input.out_fd >= 0 ? input.out_fd : out.writer(), err.writer()});
  CommandResult result;
  try {
    parse(app);
  } catch (const cli::CommandError& e) {
    result.failure = e.exit_code();
    result.message = e.what();
  } catch (const CLI::ParseError& e) {
    // main() turns these into exit code 2.
    result.failure = cli::ExitCode::usage;
    result.message = e.what();
  }
  ::close(in[0]);
  result.out = out.text();
  result.err = err.text();
  return result;
}

}  // namespace detail

/// Runs `mailtun ARGS…` (args without the program name) with the commands `register_command` adds.
inline CommandResult run_command(const RegisterCommand& register_command, const std::vector<std::string>& args,
                                 const CommandInput& input = {}) {
  return detail::run_parsed(register_command, input, [&args](CLI::App& app) {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
    app.parse(reversed);
  });
}

/// The same with the arguments as one command line, split as CLI11 splits it.
inline CommandResult run_command(const RegisterCommand& register_command, const std::string& command_line,
                                 const CommandInput& input = {}) {
  return detail::run_parsed(register_command, input,
                            [&command_line](CLI::App& app) { app.parse(command_line, false); });
}

}  // namespace mailtun::testing
