// `mailtun status [--socket PATH | --config FILE] [--json]` (DESIGN §8): asks running endpoints
// for their status report over the control socket and shows it like `wg show`.
// Which sockets: --socket; else the control_socket of --config; else every *.sock in /run/mailtun,
// as `wg show` shows every interface. --json prints the report as the endpoint sent it: one object
// for a named socket or configuration, an array of objects (one per socket found) otherwise.

#include <unistd.h>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <system_error>

#include "cli/command_error.hpp"
#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/control_client.hpp"
#include "cli/error_text.hpp"
#include "cli/status_report.hpp"
#include "cli/write_all.hpp"

namespace mailtun::cli {

namespace {

namespace fs = std::filesystem;

constexpr auto answer_timeout = std::chrono::seconds(5);

struct StatusOptions {
  std::string socket;
  std::string config;
  bool json = false;
};

[[noreturn]] void fail(ExitCode code, const std::string& message) {
  throw CommandError(code, "mailtun status: " + message);
}

/// The control socket that the configuration at `file` gives its endpoint: interface.control_socket
/// (relative to the file's directory), else `<runtime_directory>/<name>.sock` with the interface's
/// name (by default the file's stem), as the loader does. Only these two keys are read, so the
/// rest of the file need not be valid, nor its key files readable.
fs::path control_socket_of(const fs::path& file, const fs::path& runtime_directory) {
  std::ifstream in(file);
  if (!in)
    fail(ExitCode::usage, file.string() + ": cannot open: " + std::strerror(errno) + "; expected a readable TOML file");
  toml::table root;
  try {
    root = toml::parse(in, file.string());
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    fail(ExitCode::usage, file.string() + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                              ": invalid TOML: " + without_base64_runs(e.description()) + "; `mailtun check --config " +
                              file.string() + "` shows every problem");
  }
  if (const auto socket = root["interface"]["control_socket"].value<std::string>()) {
    const fs::path path(*socket);
    return path.is_absolute() ? path : fs::absolute(file).parent_path() / path;
  }
  const std::string name = root["interface"]["name"].value<std::string>().value_or(file.stem().string());
  return default_control_socket(name, runtime_directory);
}

/// Every socket named *.sock in `directory`, sorted; none if it does not exist.
std::vector<fs::path> sockets_in(const fs::path& directory) {
  std::vector<fs::path> sockets;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(directory, ec)) {
    std::error_code type_ec;
    if (entry.path().extension() == ".sock" && entry.is_socket(type_ec)) sockets.push_back(entry.path());
  }
  std::ranges::sort(sockets);
  return sockets;
}

/// What went wrong asking the endpoint at `path`, in the user's terms.
std::string unreachable(const fs::path& path, const std::system_error& e) {
  const int error = e.code().value();
  if (error == ENOENT || error == ECONNREFUSED) {
    return "no running mailtun endpoint at " + path.string() + " (is mailtun@" + path.stem().string() + " running?)";
  }
  if (error == EACCES || error == EPERM) {
    return "permission denied on " + path.string() + ": run as root or as a member of group mailtun";
  }
  if (error == ETIMEDOUT) {
    return path.string() + ": the endpoint did not answer within " + std::to_string(answer_timeout.count()) +
           " seconds";
  }
  if (error == EAGAIN) return path.string() + ": the endpoint is too busy to answer; try again";
  return path.string() + ": " + e.code().message();
}

/// The endpoint's report, as the JSON line it sent (without the newline) and parsed.
struct Answer {
  std::string json;
  StatusReport report;
};

Answer ask(const fs::path& path) {
  std::string text;
  try {
    text = ask_control_socket(path, status_request, answer_timeout);
  } catch (const std::system_error& e) {
    fail(ExitCode::failure, unreachable(path, e));
  }
  if (text.empty())
    fail(ExitCode::failure,
         path.string() + ": the endpoint closed the connection without answering (too many clients at once?)");
  if (text.starts_with("error: "))
    fail(ExitCode::failure, path.string() + ": the endpoint answered: " + text.substr(7));
  if (text.ends_with('\n')) text.pop_back();
  try {
    StatusReport report = status_from_json(text);
    return {std::move(text), std::move(report)};
  } catch (const StatusFormatError& e) {
    fail(ExitCode::failure, path.string() + ": " + e.what());
  }
}

void run_status(const StatusOptions& options, const Io& io, const fs::path& runtime_directory) {
  if (!options.socket.empty() || !options.config.empty()) {
    const fs::path path =
        !options.socket.empty() ? fs::path(options.socket) : control_socket_of(options.config, runtime_directory);
    const Answer answer = ask(path);
    write_output(io.out, options.json ? answer.json + "\n" : render_text(answer.report), "status");
    return;
  }

  const std::vector<fs::path> sockets = sockets_in(runtime_directory);
  if (sockets.empty()) {
    fail(ExitCode::failure, "no running mailtun endpoint: no control socket in " + runtime_directory.string() +
                                " (is mailtun@NAME running? else name one with --socket or --config)");
  }
  // Show every endpoint that answers; one that does not is reported and makes the exit code 1.
  std::vector<std::string> shown;
  std::optional<CommandError> failure;
  for (const fs::path& path : sockets) {
    try {
      const Answer answer = ask(path);
      shown.push_back(options.json ? answer.json : render_text(answer.report));
    } catch (const CommandError& e) {
      write_output(io.err, std::string(e.what()) + "\n", "status", "to stderr");
      if (!failure) failure = e;
    }
  }
  if (options.json) {
    std::string array = "[";
    for (const std::string& object : shown) array += (array.size() > 1 ? "," : "") + object;
    write_output(io.out, array + "]\n", "status");
  } else {
    std::string text;
    for (const std::string& block : shown) text += (text.empty() ? "" : "\n") + block;
    write_output(io.out, text, "status");
  }
  if (failure) {
    throw CommandError(ExitCode::failure, "mailtun status: " + std::to_string(sockets.size() - shown.size()) + " of " +
                                              std::to_string(sockets.size()) + " endpoints did not answer");
  }
}

}  // namespace

void register_status_command(CLI::App& app, Io io, fs::path runtime_directory) {
  auto options = std::make_shared<StatusOptions>();
  CLI::App* status =
      app.add_subcommand("status", "show peers, handshakes, streams and bytes of running endpoints, like `wg show`");
  CLI::Option* socket = status->add_option("--socket", options->socket, "the endpoint's control socket");
  status->add_option("-c,--config", options->config, "the endpoint's configuration file (to find its control socket)")
      ->excludes(socket);
  status->add_flag("--json", options->json, "print the report as JSON (an array when no endpoint is named)");
  status->callback([options, io, runtime_directory] { run_status(*options, io, runtime_directory); });
}

}  // namespace mailtun::cli
