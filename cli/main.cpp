// mailtun's entry point: builds the command line (DESIGN §8) from the register functions of
// commands.hpp and turns every way a command can end into an exit code.

#include <systemd/sd-journal.h>
#include <syslog.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <algorithm>
#include <string>

#include "cli/command_error.hpp"
#include "cli/commands.hpp"
#include "cli/logging.hpp"
#include "keys/key_file.hpp"

namespace {

int code(mailtun::cli::ExitCode exit_code) { return static_cast<int>(exit_code); }

/// Why a command failed. Under systemd it goes to the journal at priority "err", line by line, so
/// that `journalctl -p warning` shows why a service did not start (a configuration error found by
/// ExecStartPre's `mailtun check`, a listener that cannot bind); elsewhere to stderr.
void report_error(const std::string& text) {
  if (!mailtun::cli::stderr_is_journal()) {
    std::cerr << text << '\n';
    return;
  }
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    if (end > start) sd_journal_print(LOG_ERR, "%s", text.substr(start, end - start).c_str());
    start = end + 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  using mailtun::cli::ExitCode;

  CLI::App app{"mailtun: a WireGuard-style encrypted tunnel between two mail servers", "mailtun"};
  app.set_version_flag("--version", "mailtun " MAILTUN_VERSION);
  app.require_subcommand(0, 1);  // none is handled below: help and exit 2
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "mailtun: " + std::string(e.what()) + "\nRun `mailtun --help` for usage.\n";
  });
  mailtun::cli::register_keys_commands(app);
  mailtun::cli::register_check_command(app);
  mailtun::cli::register_up_command(app);
  mailtun::cli::register_init_command(app);
  mailtun::cli::register_status_command(app);

  try {
    app.parse(argc, argv);  // runs the chosen subcommand's callback
    if (app.get_subcommands().empty()) {
      std::cerr << app.help();
      return code(ExitCode::usage);
    }
    return code(ExitCode::ok);
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive here too, as "errors" with exit code 0.
    return app.exit(e) == 0 ? code(ExitCode::ok) : code(ExitCode::usage);
  } catch (const mailtun::cli::CommandError& e) {
    report_error(e.what());
    return code(e.exit_code());
  } catch (const mailtun::keys::KeyFileError& e) {
    // A key file that is missing, malformed or open to others is a configuration error.
    report_error(std::string("mailtun: ") + e.what());
    return code(ExitCode::usage);
  } catch (const std::exception& e) {
    report_error(std::string("mailtun: ") + e.what());
    return code(ExitCode::failure);
  }
}
