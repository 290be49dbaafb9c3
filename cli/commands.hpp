#pragma once
// The subcommands of DESIGN §8. Each cmd_<name>.cpp defines one register function below, which adds
// its subcommand(s) to the application; main() calls them all. Subcommands report failure by
// throwing CommandError (command_error.hpp); main() maps exceptions to exit codes.

#include <filesystem>

namespace CLI {
class App;
}  // namespace CLI

namespace mailtun::cli {

/// The file descriptors a command reads and writes. main() uses the process's own; tests pass
/// pipes.
struct Io {
  int in = 0;
  int out = 1;
  int err = 2;
};

/// `genkey`, `pubkey`, `genpsk` (cmd_keys.cpp): the key formats of `wg`, byte for byte.
/// `genkey` and `genpsk` set the process umask to 077, as `wg` does.
void register_keys_commands(CLI::App& app, Io io = {});

/// `check --config FILE [--probe]` (cmd_check.cpp): validates the configuration and prints a summary;
/// --probe also connects to every expose target and prints its greeting. Invalid configuration:
/// CommandError with exit code 2 and every error; a failed probe: exit code 1.
void register_check_command(CLI::App& app, Io io = {});

/// `status [--socket PATH | --config FILE] [--json]` (cmd_status.cpp): asks running endpoints for
/// their status over the control socket; without --socket or --config, every *.sock in
/// `runtime_directory`. An endpoint that cannot be asked: CommandError with exit code 1; a
/// configuration that cannot be read: exit code 2.
void register_status_command(CLI::App& app, Io io = {}, std::filesystem::path runtime_directory = "/run/mailtun");  // = default_runtime_directory (config.hpp)

/// `mailtun up`: cmd_up.cpp.
void register_up_command(CLI::App& app);

/// `init --role vps|office [--dir DIR] [--name NAME] [--peer-name NAME] [--peer-public-key KEY]
/// [--endpoint HOST:PORT] [--listen ADDRESS:PORT] [--force]` (cmd_init.cpp, init_plan.hpp): writes
/// DIR/NAME.key and DIR/NAME.toml and prints the public key, the next steps and the Postfix and
/// Dovecot lines. Bad flags or an existing file without --force: exit code 2; I/O errors: 1.
void register_init_command(CLI::App& app, Io io = {});

}  // namespace mailtun::cli
