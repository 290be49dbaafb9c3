#include "keys/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "keys/base64.hpp"
#include "keys/file_descriptor.hpp"
#include "keys/secret_text.hpp"

namespace mailtun::keys {

namespace {

/// Quotes a path for the shell command in a message, so the suggested fix can be pasted as is even
/// for a path with spaces.
std::string shell_quoted(const std::string& path) {
  const bool plain = !path.empty() && path.find_first_not_of(
                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789_./-+:@,%=") == std::string::npos;
  if (plain) return path;
  std::string quoted = "'";
  for (const char c : path) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string octal_mode(mode_t mode) {
  std::array<char, 8> text{};
  std::snprintf(text.data(), text.size(), "%04o", static_cast<unsigned>(mode & 07777));
  return text.data();
}

std::string file_type(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a named pipe";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

/// Opens, checks and reads a key file. Everything is checked on the open descriptor (fstat, not
/// stat on the name), so a file swapped between the check and the read cannot slip through.
/// `generate_command` is what a missing-file message suggests to create one.
SecretText read_key_file(const KeyFileSource& source, std::string_view generate_command) {
  const std::string& name = source.name;
  const std::string path = source.path.string();
  // O_NONBLOCK: opening a FIFO must not hang before fstat can refuse it; it changes nothing for a
  // regular file. O_NOCTTY: a path naming a terminal must not become our controlling terminal.
  // O_NOFOLLOW: see the symbolic link policy in key_file.hpp.
  const int raw_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
  if (raw_fd < 0) {
    const int error = errno;
    if (error == ENOENT) {
      throw KeyFileError(name + ": no such file; create it with: (umask 077; " +
                         std::string(generate_command) + " > " + shell_quoted(path) + ")");
    }
    if (error == ELOOP) {
      throw KeyFileError(name + " is a symbolic link; expected the key file itself (configure the path it points to)");
    }
    throw KeyFileError("cannot open " + name + ": " + std::strerror(error));
  }
  FileDescriptor fd(raw_fd);

  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) {
    throw KeyFileError("cannot stat " + name + ": " + std::strerror(errno));
  }
  if (!S_ISREG(status.st_mode)) {
    throw KeyFileError(name + " is " + file_type(status.st_mode) +
                       "; expected a file holding one base64 key");
  }
  // DESIGN §3: refuse before reading a byte.
  if (auto problem = unsafe_file_owner(status.st_uid, ::geteuid())) {
    throw KeyFileError(name + " is " + *problem + "; run: chown " + std::to_string(::geteuid()) + " " +
                       shell_quoted(path));
  }
  if (source.credential) {
    if ((status.st_mode & S_IRWXO) != 0) {
      throw KeyFileError(name + " is open to others (mode " + octal_mode(status.st_mode) +
                         "); systemd's credentials never are: is CREDENTIALS_DIRECTORY set by hand?");
    }
  } else if (auto problem = unsafe_key_file_mode(status.st_mode)) {
    throw KeyFileError(name + " is " + *problem + "; run: chmod 600 " + shell_quoted(path));
  }
  if (status.st_size > static_cast<off_t>(SecretText::capacity)) {
    throw KeyFileError(name + " is " + std::to_string(status.st_size) +
                       " bytes; expected one base64 key of 44 characters");
  }

  SecretText text;
  if (auto read = text.read_all(fd.get()); !read) {
    if (read.error() == std::errc::file_too_large) {  // it grew after fstat
      throw KeyFileError(name + " is longer than " + std::to_string(SecretText::capacity) +
                         " bytes; expected one base64 key of 44 characters");
    }
    throw KeyFileError("cannot read " + name + ": " + read.error().message());
  }
  return text;
}

/// Removes the file write_key_file created and throws; `error` is the errno of the failed step.
[[noreturn]] void abandon_key_file(const std::string& name, const char* step, int error) {
  ::unlink(name.c_str());
  throw KeyFileError("cannot " + std::string(step) + " " + name + ": " + std::strerror(error));
}

}  // namespace

std::optional<std::string> unsafe_key_file_mode(mode_t mode) {
  // Any group/other bit, not only the read bits: see the policy in key_file.hpp.
  if ((mode & (S_IRWXG | S_IRWXO)) == 0) return std::nullopt;
  // Named by the worst access granted, in the words of DESIGN §3 when it is reading.
  const char* access = (mode & (S_IRGRP | S_IROTH)) != 0   ? "readable"
                       : (mode & (S_IWGRP | S_IWOTH)) != 0 ? "writable"
                                                           : "executable";
  return std::string(access) + " by group or others (mode " + octal_mode(mode) + ")";
}

std::optional<std::string> unsafe_file_owner(uid_t owner, uid_t effective_user) {
  if (owner == effective_user || owner == 0) return std::nullopt;
  return "owned by user " + std::to_string(owner) + ", who could replace it; expected it to be owned by user " +
         std::to_string(effective_user) + " (this process) or root";
}

KeyFileSource locate_key_file(const std::filesystem::path& configured, std::string_view credentials_directory) {
  const std::filesystem::path file_name = configured.filename();
  if (!credentials_directory.empty() && !file_name.empty()) {
    const std::filesystem::path credential = std::filesystem::path(credentials_directory) / file_name;
    std::error_code ignored;
    if (std::filesystem::exists(credential, ignored)) {
      return {credential,
              "credential " + file_name.string() + " (" + credential.string() + ", in place of " +
                  configured.string() + ")",
              true};
    }
  }
  return {configured, configured.string()};
}

PrivateKey load_private_key_file(const KeyFileSource& source) {
  const SecretText text = read_key_file(source, "mailtun genkey");
  auto key = parse_private_key(text.view());
  if (!key) throw KeyFileError(source.name + ": " + key.error());
  return std::move(*key);
}

PrivateKey load_private_key_file(const std::filesystem::path& path) {
  return load_private_key_file(KeyFileSource{path, path.string()});
}

PresharedKey load_preshared_key_file(const KeyFileSource& source) {
  const SecretText text = read_key_file(source, "mailtun genpsk");
  auto key = parse_preshared_key(text.view());
  if (!key) throw KeyFileError(source.name + ": " + key.error());
  return std::move(*key);
}

PresharedKey load_preshared_key_file(const std::filesystem::path& path) {
  return load_preshared_key_file(KeyFileSource{path, path.string()});
}

void write_key_file(const std::filesystem::path& path, std::string_view text) {
  const std::string name = path.string();
  // O_EXCL: never replace an existing key (it may be the only copy); with O_CREAT it also refuses
  // to follow a symbolic link planted at `path`.
  const int raw_fd =
      ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, S_IRUSR | S_IWUSR);
  if (raw_fd < 0) {
    const int error = errno;
    if (error == EEXIST) {
      throw KeyFileError(name +
                         " already exists; not overwriting a key file (move it away first "
                         "if it is to be replaced)");
    }
    throw KeyFileError("cannot create " + name + ": " + std::strerror(error));
  }
  FileDescriptor fd(raw_fd);

  // The umask can only take bits away from 0600, but a umask such as 0200 would leave a key file
  // the owner cannot rewrite; set the mode explicitly.
  if (::fchmod(fd.get(), S_IRUSR | S_IWUSR) != 0) abandon_key_file(name, "set mode 0600 on", errno);

  while (!text.empty()) {
    const ssize_t n = ::write(fd.get(), text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      abandon_key_file(name, "write", errno);
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  // A key that `mailtun init` reported as written must survive a power cut right after.
  if (::fsync(fd.get()) != 0) abandon_key_file(name, "sync", errno);
  if (fd.close() != 0) abandon_key_file(name, "close", errno);
}

}  // namespace mailtun::keys
