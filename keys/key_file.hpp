#pragma once
// Key files (DESIGN §3): one base64 line, as written by `mailtun genkey > FILE` or `wg genkey`.
//
// Permission policy: a private key or PSK file is refused if its mode grants group or others any
// permission at all (read, write or execute; `st_mode & 077`), as OpenSSH refuses identity files.
// Read access would disclose the key; write access would let another user substitute a key of their
// choosing, which is as bad for a PSK and turns a private key into one the attacker knows.
// Ownership: a key file must belong to the effective user or to root. Another owner can rewrite or
// chmod it whenever they like, whatever its mode now says (this matters when running as root, who can
// open anyone's 0600 file). systemd credentials belong to root, so they pass.
// Symbolic links: a key file that is a symbolic link is refused (O_NOFOLLOW) rather than followed
// and its target checked. Whoever can write the directory holding the link chooses its target at
// any moment, so a check of the target proves nothing about the next read, and a link into a
// directory of another user would make their file our key. The fix is to configure the real path;
// systemd's LoadCredential= copies the file, so credentials are never links.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "keys/key.hpp"

namespace mailtun::keys {

/// A key file that cannot be used. The message names the file and, where there is one, the fix:
/// "FILE is readable by group or others (mode 0644); run: chmod 600 FILE".
class KeyFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A key file to read: the file opened, and how messages name it.
struct KeyFileSource {
  std::filesystem::path path;
  std::string name;
  /// A systemd credential: systemd gives the service user read access with an ACL, which stat()
  /// shows as group bits (0440), so only access for others is refused.
  bool credential = false;
};

/// Where the key file configured as `configured` is read from. A service that runs as an
/// unprivileged user cannot open root's 0600 key files; systemd hands them over with
/// `LoadCredential=NAME:PATH`, copying each into $CREDENTIALS_DIRECTORY. So if
/// `credentials_directory` is not empty and holds an entry with the file name of `configured`,
/// that entry is read, and messages name both ("credential vps.key (DIR/vps.key, in place of
/// /etc/mailtun/vps.key)"); otherwise `configured` itself is.
[[nodiscard]] KeyFileSource locate_key_file(const std::filesystem::path& configured,
                                            std::string_view credentials_directory);

/// Loads a private key (clamped, in guarded memory). Throws KeyFileError if the file is missing,
/// cannot be opened, is not a regular file, grants group or others any permission, is longer than
/// a key file can be, or does not hold exactly one base64 key (surrounding whitespace allowed).
/// The mode is checked with fstat() on the descriptor that is then read, so the file checked is
/// the file read. A symbolic link, or a file owned by neither the effective user nor root, is
/// refused. Nothing of the file's content is put in a message.
[[nodiscard]] PrivateKey load_private_key_file(const KeyFileSource& source);
[[nodiscard]] PrivateKey load_private_key_file(const std::filesystem::path& path);

/// As load_private_key_file, for a preshared key.
[[nodiscard]] PresharedKey load_preshared_key_file(const KeyFileSource& source);
[[nodiscard]] PresharedKey load_preshared_key_file(const std::filesystem::path& path);

/// The permission policy above as a predicate: what is wrong with a key file of this mode, worded
/// to follow "FILE is " — e.g. "readable by group or others (mode 0644)" — or nothing if the mode
/// is fine. Only permission bits are looked at, not the file type.
[[nodiscard]] std::optional<std::string> unsafe_key_file_mode(mode_t mode);

/// The ownership policy above as a predicate: what is wrong with a file owned by `owner` when read by
/// `effective_user`, worded to follow "FILE is ", or nothing if either owns it or root does.
/// Shared with the configuration file, which is held to the same rule.
[[nodiscard]] std::optional<std::string> unsafe_file_owner(uid_t owner, uid_t effective_user);

/// Creates `path` with mode 0600 (whatever the umask) and writes `text` to it verbatim — callers
/// pass the base64 line including its "\n" — then fsyncs it. Never overwrites or follows a symbolic
/// link: throws KeyFileError if `path` exists, and on any other failure, after removing the partly
/// written file.
void write_key_file(const std::filesystem::path& path, std::string_view text);

}  // namespace mailtun::keys
