// `mailtun genkey`, `mailtun pubkey`, `mailtun genpsk` (DESIGN §3, §8): the same output as
// `wg genkey`, `wg pubkey`, `wg genpsk`, so keys move freely between the two tools.

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <system_error>

#include "cli/command_error.hpp"
#include "cli/commands.hpp"
#include "cli/write_all.hpp"
#include "keys/base64.hpp"
#include "keys/key.hpp"
#include "keys/key_file.hpp"
#include "keys/secret_text.hpp"

namespace mailtun::cli {

namespace {

/// Prints a key's base64 and a newline in one write, as `wg` does with puts(). The secret's text
/// exists only in `text` and the stack buffer, and both are wiped before anything can throw.
void print_secret(const Io& io, std::string_view command, keys::KeySpan key) {
  std::array<char, keys::base64_key_length + 1> line{};
  std::string text = keys::to_base64(key);
  std::copy(text.begin(), text.end(), line.begin());
  sodium_memzero(text.data(), text.size());
  line.back() = '\n';
  const std::error_code error = write_all(io.out, std::string_view(line.data(), line.size()));
  sodium_memzero(line.data(), line.size());
  if (error) throw write_error(command, "to stdout", error);
}

/// Makes what this process creates private, as `wg genkey` does. A shell's `> file` has already
/// created stdout by now with the shell's umask, so also warn if that file is open to others: the
/// endpoint will refuse it as a key file (DESIGN §3), and the user is better told now.
void protect_output(const Io& io, std::string_view command) {
  ::umask(077);
  struct stat status {};
  if (::fstat(io.out, &status) != 0 || !S_ISREG(status.st_mode)) return;
  const auto problem = keys::unsafe_key_file_mode(status.st_mode);
  if (!problem) return;
  const std::string warning = "mailtun " + std::string(command) +
                              ": warning: writing a secret key to a file that is " + *problem +
                              "; mailtun refuses such key files: run chmod 600 on it, or set umask "
                              "077 before creating it\n";
  (void)write_all(io.err, warning);  // a warning that cannot be written must not stop the key
}

void genkey(const Io& io) {
  protect_output(io, "genkey");
  print_secret(io, "genkey", keys::PrivateKey::generate().bytes());
}

void genpsk(const Io& io) {
  protect_output(io, "genpsk");
  print_secret(io, "genpsk", keys::PresharedKey::generate().bytes());
}

/// Reads a private key from stdin (up to end of file, surrounding whitespace allowed, like
/// `wg pubkey`) and prints its public key. Bad input is a usage error (exit 2); the message says
/// what was expected and never repeats the input.
void pubkey(const Io& io) {
  keys::SecretText text;  // the private key's text is wiped with it
  if (auto read = text.read_all(io.in); !read) {
    if (read.error() == std::errc::file_too_large) {
      throw CommandError(ExitCode::usage,
                         "mailtun pubkey: stdin: expected a base64 private key of 44 characters "
                         "(as printed by `mailtun genkey`), got more than " +
                             std::to_string(keys::SecretText::capacity) + " bytes");
    }
    throw CommandError(ExitCode::failure,
                       "mailtun pubkey: cannot read stdin: " + read.error().message());
  }
  const auto key = keys::parse_private_key(text.view());
  if (!key) throw CommandError(ExitCode::usage, "mailtun pubkey: stdin: " + key.error());
  write_output(io.out, keys::to_base64(key->public_key().bytes()) + "\n", "pubkey");
}

}  // namespace

void register_keys_commands(CLI::App& app, Io io) {
  app.add_subcommand("genkey", "Generate a private key and print it in base64 (as `wg genkey`)")
      ->callback([io] { genkey(io); });
  app.add_subcommand("pubkey",
                     "Read a private key from stdin and print its public key (as `wg pubkey`)")
      ->callback([io] { pubkey(io); });
  app.add_subcommand("genpsk", "Generate a preshared key and print it in base64 (as `wg genpsk`)")
      ->callback([io] { genpsk(io); });
}

}  // namespace mailtun::cli
