// mailtun's entry point: builds the command line (DESIGN §8) from the register functions of
// commands.hpp and turns every way a command can end into an exit code.

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>

#include "cli/command_error.hpp"
#include "cli/commands.hpp"
#include "keys/key_file.hpp"

namespace {

int code(mailtun::cli::ExitCode exit_code) { return static_cast<int>(exit_code); }

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
    std::cerr << e.what() << '\n';
    return code(e.exit_code());
  } catch (const mailtun::keys::KeyFileError& e) {
    // A key file that is missing, malformed or open to others is a configuration error.
    std::cerr << "mailtun: " << e.what() << '\n';
    return code(ExitCode::usage);
  } catch (const std::exception& e) {
    std::cerr << "mailtun: " << e.what() << '\n';
    return code(ExitCode::failure);
  }
}
