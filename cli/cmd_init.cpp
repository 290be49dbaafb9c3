// `mailtun init --role vps|office` (DESIGN §8): a fresh private key and a complete configuration
// for one side, then what to do next and the matching Postfix and Dovecot lines. What is written
// and printed comes from init_plan.hpp; this file only checks the file system, writes the two
// files and prints.

#include <fcntl.h>
#include <grp.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "cli/command_error.hpp"
#include "cli/commands.hpp"
#include "cli/init_plan.hpp"
#include "cli/write_all.hpp"
#include "keys/base64.hpp"
#include "keys/file_descriptor.hpp"
#include "keys/key.hpp"
#include "keys/key_file.hpp"

namespace mailtun::cli {

namespace {

/// The service runs as this group and reads the configuration through it (never the key, which
/// reaches it as a systemd credential).
constexpr const char* service_group = "mailtun";

struct Options {
  std::string role;
  std::string dir{default_dir};
  std::string name;
  std::string peer_name;
  std::string peer_public_key;
  std::string endpoint;
  std::string listen;
  bool force = false;
  // Set once the options are registered: which of the optional ones were given.
  CLI::Option* peer_public_key_option = nullptr;
  CLI::Option* endpoint_option = nullptr;
  CLI::Option* listen_option = nullptr;
};

[[noreturn]] void fail(ExitCode code, const std::string& message) {
  throw CommandError(code, "mailtun init: " + message);
}

std::string errno_text(int error) { return std::generic_category().message(error); }

bool path_taken(const std::filesystem::path& path) {
  struct stat status {};
  return ::lstat(path.c_str(), &status) == 0;  // a dangling symbolic link counts too
}

/// The group the configuration (and a directory init creates) is given: `mailtun` when it exists
/// and we are root, as the package sets up /etc/mailtun; nothing otherwise.
std::optional<gid_t> service_gid() {
  if (::geteuid() != 0) return std::nullopt;
  const group* entry = ::getgrnam(service_group);
  if (entry == nullptr) return std::nullopt;
  return entry->gr_gid;
}

/// Creates DIR (its parent must exist) as the package would: 0750, group mailtun.
void make_directory(const std::filesystem::path& dir, std::optional<gid_t> gid) {
  if (::mkdir(dir.c_str(), 0750) != 0) {
    fail(ExitCode::failure, "cannot create the directory " + dir.string() + ": " + errno_text(errno));
  }
  // The umask may have taken bits away; the service user must still be able to enter it.
  if (::chmod(dir.c_str(), 0750) != 0 || (gid && ::chown(dir.c_str(), static_cast<uid_t>(-1), *gid) != 0)) {
    fail(ExitCode::failure, "cannot set the mode or group of " + dir.string() + ": " + errno_text(errno));
  }
}

/// Writes the configuration as a new file, mode 0640 and group `gid` if given; on failure removes
/// what it created and throws.
void write_config_file(const std::filesystem::path& path, std::string_view text, std::optional<gid_t> gid) {
  const std::string name = path.string();
  const keys::FileDescriptor fd(::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0640));
  if (fd.get() < 0) fail(ExitCode::failure, "cannot create " + name + ": " + errno_text(errno));
  const auto abandon = [&name](const std::string& step, int error) {
    ::unlink(name.c_str());
    fail(ExitCode::failure, "cannot " + step + " " + name + ": " + errno_text(error));
  };
  // The umask (077 by now) took the group's read bit away; the service needs it.
  if (::fchmod(fd.get(), 0640) != 0) abandon("set mode 0640 on", errno);
  if (gid && ::fchown(fd.get(), static_cast<uid_t>(-1), *gid) != 0) abandon("set the group of", errno);
  if (const std::error_code error = write_all(fd.get(), text)) abandon("write", error.value());
  if (::fsync(fd.get()) != 0) abandon("sync", errno);
}

/// Removes `path` for --force; a file that is not there is fine.
void remove_for_force(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    fail(ExitCode::failure, "cannot remove " + path.string() + " to replace it: " + errno_text(errno));
  }
}

/// Writes a fresh private key to `path` (0600, never over an existing file) and returns its
/// public key in base64.
std::string write_new_key(const std::filesystem::path& path) {
  const keys::PrivateKey key = keys::PrivateKey::generate();
  std::string text = keys::to_base64(key.bytes()) + "\n";
  try {
    keys::write_key_file(path, text);
  } catch (const keys::KeyFileError& e) {
    sodium_memzero(text.data(), text.size());
    fail(ExitCode::failure, e.what());
  }
  sodium_memzero(text.data(), text.size());
  return keys::to_base64(key.public_key().bytes());
}

void init(const Io& io, const Options& options) {
  InitOptions init_options;
  init_options.role = options.role == "office" ? Role::office : Role::vps;
  std::error_code ignored;
  // Absolute, because private_key_file is read relative to the configuration's own directory.
  const std::filesystem::path dir = std::filesystem::absolute(options.dir, ignored).lexically_normal();
  init_options.dir = dir.empty() ? std::filesystem::path(options.dir) : dir;
  init_options.name = options.name;
  init_options.peer_name = options.peer_name;
  if (options.peer_public_key_option->count() > 0) init_options.peer_public_key = options.peer_public_key;
  if (options.endpoint_option->count() > 0) init_options.endpoint = options.endpoint;
  if (options.listen_option->count() > 0) init_options.listen = options.listen;

  const auto plan = plan_init(init_options);
  if (!plan) fail(ExitCode::usage, plan.error());

  // Refuse before writing anything: a half-done init (a new key beside an old configuration)
  // would leave a host that matches neither side.
  const bool replacing_key = path_taken(plan->key_path);
  if (!options.force) {
    for (const auto& path : {plan->key_path, plan->config_path}) {
      if (path_taken(path)) {
        fail(ExitCode::usage, path.string() + " already exists; not overwriting it (--force replaces the key "
                              "and the configuration, and the other side then needs the new public key)");
      }
    }
  }

  const std::optional<gid_t> gid = service_gid();
  if (!path_taken(plan->config_path.parent_path())) make_directory(plan->config_path.parent_path(), gid);
  ::umask(077);  // as `wg genkey`: nothing this process creates is open to others
  if (options.force) {
    remove_for_force(plan->key_path);
    remove_for_force(plan->config_path);
  }
  const std::string public_key = write_new_key(plan->key_path);
  try {
    write_config_file(plan->config_path, plan->config_text, gid);
  } catch (...) {
    ::unlink(plan->key_path.c_str());  // the key alone is no use, and would block a second try
    throw;
  }

  if (options.force && replacing_key) {
    write_output(io.err,
                 "mailtun init: warning: replaced the private key in " + plan->key_path.string() +
                     "; the other side needs the new public key\n",
                 "init", "to stderr");
  }
  const std::string access = gid ? "mode 0640, group mailtun: the service reads it" : "mode 0640";
  write_output(io.out, init_report(*plan, public_key, access), "init");
}

}  // namespace

void register_init_command(CLI::App& app, Io io) {
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "init", "Write a fresh private key and a configuration for one side, and print the matching Postfix "
              "and Dovecot lines");
  command->add_option("--role", options->role, "vps (Postfix, listens) or office (Dovecot, dials the VPS)")
      ->required()
      ->check(CLI::IsMember({"vps", "office"}));
  command->add_option("--dir", options->dir, "Where to write NAME.toml and NAME.key")->capture_default_str();
  command->add_option("--name", options->name, "This endpoint's name (default: the role)");
  command->add_option("--peer-name", options->peer_name, "The other side's name (default: the other role)");
  options->peer_public_key_option = command->add_option(
      "--peer-public-key", options->peer_public_key,
      "The other side's public key, as its `mailtun init` printed it (default: a placeholder to fill in)");
  options->endpoint_option = command->add_option(
      "--endpoint", options->endpoint, "office: the VPS's public HOST:PORT to dial (required for office)");
  options->listen_option = command->add_option(
      "--listen", options->listen, "vps: the ADDRESS:PORT to accept the office on (default " +
                                       std::string(default_listen) + ")");
  command->add_flag("--force", options->force, "Replace an existing key and configuration");
  command->callback([io, options] { init(io, *options); });
}

}  // namespace mailtun::cli
