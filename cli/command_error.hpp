#pragma once
// How a subcommand fails: with a message already worded for the user and one of the exit codes of
// DESIGN §8, which main() returns.

#include <stdexcept>
#include <string>

namespace mailtun::cli {

/// Exit codes of DESIGN §8 (contract: scripts and systemd units test them).
enum class ExitCode : int {
  ok = 0,
  failure = 1,  // runtime failure: I/O error, peer unreachable at start-up, internal error
  usage = 2,    // usage or configuration error: bad arguments, malformed key or config, unsafe mode
};

/// Thrown by a subcommand; main() prints what() on stderr as it is (the message names the command,
/// e.g. "mailtun pubkey: stdin: expected …") and exits with exit_code().
class CommandError : public std::runtime_error {
 public:
  CommandError(ExitCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  [[nodiscard]] ExitCode exit_code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

}  // namespace mailtun::cli
