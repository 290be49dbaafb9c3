#include "cli/config.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <system_error>
#include <utility>

#include "cli/error_text.hpp"
#include "cli/table_reader.hpp"
#include "keys/base64.hpp"
#include "keys/file_descriptor.hpp"
#include "keys/key_file.hpp"
#include "tunnel/frame.hpp"

namespace mailtun::cli {

namespace {

// A configuration file is a few kilobytes; the cap only stops `--config /dev/zero` from eating memory.
constexpr std::size_t max_config_size = 1024 * 1024;

constexpr std::int64_t min_keepalive = 1;
constexpr std::int64_t max_keepalive = 3600;
constexpr std::int64_t min_session_age = 1;
constexpr std::int64_t max_session_age = 7 * 24 * 3600;
constexpr std::int64_t min_max_streams = 1;
constexpr std::int64_t max_max_streams = 65536;
constexpr std::size_t max_name_length = 64;

constexpr std::string_view protocol_list = "one of lmtp, smtp, imap, pop3, managesieve, sasl or tcp";

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= max_name_length && std::ranges::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

constexpr std::string_view name_rule = R"(1 to 64 letters, digits, ".", "_" or "-")";

/// The text of a configuration file may hold an inline private key: wiped whichever way reading
/// or parsing ends.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::string& text) : text_(text) {}
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;
  ~WipeOnExit() { sodium_memzero(text_.data(), text_.size()); }

 private:
  std::string& text_;
};

/// A file of the configuration refused as a whole; `reason` follows "FILE: ".
struct FileRefused {
  std::string reason;
};

/// Whoever can rewrite a configuration file or a peers_dir can add a peer and an expose: only its
/// owner may write it, and the owner must be this user or root (the Debian package's root:mailtun
/// 0640 passes). The problem with `status`, to follow the name of `name`, or nullopt.
std::optional<std::string> unsafe_writers(const struct stat& status, const std::string& name) {
  if ((status.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    std::array<char, 8> mode{};
    std::snprintf(mode.data(), mode.size(), "%04o", static_cast<unsigned>(status.st_mode & 07777));
    return "is writable by group or others (mode " + std::string(mode.data()) +
           "), who could add a peer and an expose; run: chmod go-w " + name;
  }
  if (const auto problem = keys::unsafe_file_owner(status.st_uid, ::geteuid())) return "is " + *problem;
  return std::nullopt;
}

/// Reads the configuration file at `path` into `text` (which the caller wipes) and returns its
/// mode; throws FileRefused if it cannot be read or others could rewrite it.
mode_t read_config_text(const std::filesystem::path& path, std::string& text) {
  const std::string name = path.string();
  const auto fail = [](const std::string& message) { return FileRefused{message}; };
  // toml::parse_file would do, but says only "could not be opened"; a mail admin running
  // `mailtun check` as the wrong user needs to read "Permission denied".
  const keys::FileDescriptor fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    throw fail(std::string("cannot open: ") + std::strerror(errno) + "; expected a readable TOML file");
  }
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) throw fail(std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(status.st_mode)) throw fail("not a regular file; expected a TOML file");
  if (const auto problem = unsafe_writers(status, name)) throw fail(*problem);
  if (static_cast<std::uint64_t>(status.st_size) > max_config_size) {
    throw fail("is " + std::to_string(status.st_size) + " bytes; expected a configuration file of at most " +
               std::to_string(max_config_size) + " bytes");
  }
  text.assign(static_cast<std::size_t>(status.st_size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw fail(std::string("cannot read: ") + std::strerror(errno));
    if (n == 0) break;  // it shrank since fstat
    done += static_cast<std::size_t>(n);
  }
  text.resize(done);
  return status.st_mode;
}

// ---------------------------------------------------------------------------------------------
// The loader: reads each table into a draft, then checks the drafts against each other.

// What has been read of each table; optionals stay empty where the file was wrong, so the
// cross-checks can still run on the rest without repeating an error already reported.

struct InterfaceDraft {
  std::optional<TableReader> reader;
  std::optional<std::string> name;
  std::optional<keys::PrivateKey> private_key;
  std::optional<SocketAddress> listen;
  std::optional<std::filesystem::path> control_socket;
  std::optional<SocketAddress> metrics_listen;
  std::optional<std::filesystem::path> peers_dir;
  std::optional<std::string> private_key_unread;
};

struct PeerDraft {
  TableReader reader;
  std::optional<std::string> name;
  std::optional<keys::PublicKey> public_key;
  keys::PresharedKey psk;
  bool psk_unread = false;
  std::optional<HostPort> endpoint;
  std::chrono::seconds keepalive = default_keepalive;
  std::size_t max_streams = default_max_streams;
  std::chrono::seconds max_session_age = default_max_session_age;
};

struct ForwardDraft {
  TableReader reader;
  std::optional<std::string> service;
  std::optional<SocketAddress> listen;
  std::optional<std::vector<std::string>> peers;
  bool peers_listed = false;  // read from `peers = [...]` rather than `peer = "..."`
  std::optional<forwarder::Protocol> protocol;
  bool allow_public = false;
};

struct ExposeDraft {
  TableReader reader;
  std::optional<std::string> service;
  std::optional<HostPort> target;
  std::optional<std::vector<std::string>> peers;
  std::optional<forwarder::Protocol> protocol;
  std::optional<forwarder::ProxyVersion> proxy_protocol;
  std::vector<forwarder::AddressPrefix> proxy_sources = forwarder::default_proxy_sources();
  bool allow_any_port = false;
};

/// The configured peer names, gathered once for every reference to them. At namespace scope: clang
/// cannot default-construct a nested class with member initializers inside its enclosing class.
struct PeerNames {
  std::set<std::string_view, std::less<>> set;
  std::vector<std::string_view> in_order;
  bool some_unnamed = false;
};

/// Whose configuration is loaded: this endpoint's, or the other endpoint's for `check --peer-config`,
/// whose key files need not be readable here.
enum class KeyFiles { required, may_be_unreadable };

class Loader {
 public:
  Loader(const std::filesystem::path& path, std::optional<mode_t> file_mode, KeyFiles key_files)
      : path_(path), problems_(path.string()), key_files_(key_files) {
    // systemd's LoadCredential= (see keys::locate_key_file).
    if (const char* credentials = std::getenv("CREDENTIALS_DIRECTORY")) credentials_directory_ = credentials;
    files_.push_back({.mode = file_mode, .directory = directory_of(path)});
  }

  PeerSideConfig load(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, path_.string());
    } catch (const toml::parse_error& e) {
      problems_.add_syntax(e);
      problems_.raise();
    }
    check_top_level(root);
    if (toml::node* node = root.get("interface")) {
      if (toml::table* table = node->as_table()) read_interface(*table);
    } else {
      problems_.add(1, "interface",
                    "missing; expected an [interface] table with this endpoint's private_key_file");
    }
    for_each_table(root, "peer", &Loader::read_peer);
    for_each_table(root, "forward", &Loader::read_forward);
    for_each_table(root, "expose", &Loader::read_expose);
    if (interface_.peers_dir) read_peers_dir(*interface_.peers_dir);
    // With a peers_dir, a VPS may be set up before its first office is.
    if (peers_.empty() && !root.contains("peer") && !(interface_.reader && interface_.reader->has("peers_dir"))) {
      problems_.add(1, "peer",
                    "no [[peer]] table; expected at least one [[peer]] with the name and public_key of "
                    "the other endpoint");
    }
    check_peers();
    check_forwards();
    check_exposes();
    if (!problems_.empty()) problems_.raise();
    std::vector<std::string> psk_unread;
    for (const PeerDraft& peer : peers_) {
      if (peer.psk_unread) psk_unread.push_back(*peer.name);
    }
    return {.config = build(), .private_key_unread = interface_.private_key_unread, .psk_unread = std::move(psk_unread)};
  }

 private:
  /// Each top-level key must be one of the four tables, of the right kind; a file of the
  /// peers_dir holds no [interface].
  void check_top_level(toml::table& root, bool fragment = false) {
    for (auto&& [key, value] : root) {
      const std::string_view name = key.str();
      if (fragment && name == "interface") {
        problems_.add(line_of(value), name,
                      "not allowed in a file of peers_dir; expected only [[peer]], [[forward]] and [[expose]] "
                      "tables here, and [interface] in " + path_.string());
        continue;
      }
      if (std::ranges::find(top_level_names(), name) == top_level_names().end()) {
        std::string message;
        if (const auto guess = closest(name, top_level_names())) {
          message = std::string(value.is_table() || value.is_array() ? "unknown table" : "unknown key") +
                    "; did you mean `" + std::string(table_kind(*guess).heading) + "`?";
        } else if (const std::string elsewhere = tables_with_key(name); !elsewhere.empty() && !value.is_table()) {
          message = "unknown key at the top of the file; it belongs in " + elsewhere;
        } else {
          message = "unknown " + std::string(value.is_table() ? "table" : "key") +
                    "; expected only [interface], [[peer]], [[forward]] and [[expose]]";
        }
        problems_.add(line_of(value), name, message);
        continue;
      }
      const TableKind& k = table_kind(name);
      if (name == "interface") {
        if (!value.is_table()) {
          problems_.add(line_of(value), name,
                        "got " + std::string(type_name(value)) + "; expected an [interface] table");
        }
      } else if (value.is_table()) {
        problems_.add(line_of(value), name,
                      "got a table; expected " + std::string(k.heading) + " with double brackets, one per " +
                          std::string(name));
      } else if (!value.is_array_of_tables()) {
        problems_.add(line_of(value), name,
                      "got " + std::string(type_name(value)) + "; expected " + std::string(k.heading) +
                          " tables");
      }
    }
  }

  void for_each_table(toml::table& root, std::string_view name, void (Loader::*read)(TableReader)) {
    toml::node* node = root.get(name);
    if (node == nullptr || !node->is_array_of_tables()) return;
    toml::array& array = *node->as_array();
    for (std::size_t i = 0; i < array.size(); ++i) {
      (this->*read)(TableReader(problems_, *array.get(i)->as_table(),
                                std::string(name) + "[" + std::to_string(i) + "]", table_kind(name)));
    }
  }

  static std::filesystem::path directory_of(const std::filesystem::path& file) {
    std::error_code ignored;
    const std::filesystem::path absolute = std::filesystem::absolute(file, ignored);
    return (absolute.empty() ? file : absolute).parent_path();
  }

  /// A relative path is relative to the directory of the file being read.
  [[nodiscard]] std::filesystem::path resolve(const std::string& path) const {
    const std::filesystem::path p(path);
    return p.is_absolute() ? p : (files_[problems_.current()].directory / p).lexically_normal();
  }

  [[nodiscard]] keys::KeyFileSource key_file(const std::string& path) const {
    return keys::locate_key_file(resolve(path), credentials_directory_);
  }

  /// Reports a key file that cannot be used, unless this is the other endpoint's file, whose keys
  /// need not be here; returns true if it was reported.
  bool key_file_error(const TableReader& reader, std::string_view key, const keys::KeyFileError& e) {
    if (key_files_ == KeyFiles::may_be_unreadable) return false;
    reader.error(key, e.what());
    return true;
  }

  /// DESIGN §3: a secret written into the configuration file makes the file a key file, held to
  /// the same mode. Reported once per file, at the first inline secret.
  void check_inline_secret(const TableReader& reader, std::string_view key, std::string_view file_key) {
    FileRead& file = files_[reader.file()];
    if (!file.mode || file.inline_secret_checked) return;
    file.inline_secret_checked = true;
    if (const auto problem = keys::unsafe_key_file_mode(*file.mode)) {
      reader.error(key, "this file holds a secret key and is " + *problem + "; run: chmod 600 " +
                            problems_.file(reader.file()) + " (or move the key to a file named by " +
                            std::string(file_key) + ")");
    }
  }

  void read_interface(toml::table& table) {
    TableReader reader(problems_, table, "interface", table_kind("interface"));
    if (const auto name = reader.string("name", name_rule)) {
      if (valid_name(*name)) {
        interface_.name = *name;
      } else {
        reader.error("name", quote_value(*name) + " is not a valid name; expected " + std::string(name_rule));
      }
    } else if (!reader.has("name")) {
      const std::string stem = path_.stem().string();
      if (valid_name(stem)) {
        interface_.name = stem;
      } else {
        reader.missing("name", "a name of " + std::string(name_rule) +
                                   " (the file name " + quote_value(stem) + " cannot serve as the default)");
      }
    }

    const bool has_file = reader.has("private_key_file");
    const bool has_inline = reader.has("private_key");
    if (has_file && has_inline) {
      reader.error("private_key", "set together with private_key_file; expected only one of the two");
    } else if (!has_file && !has_inline) {
      reader.missing("private_key_file",
                     "the path of this endpoint's private key file, created with: (umask 077; mailtun genkey > "
                     "FILE)");
    } else if (has_file) {
      if (const auto file = reader.string("private_key_file", "a path such as \"/etc/mailtun/vps.key\"")) {
        try {
          interface_.private_key.emplace(keys::load_private_key_file(key_file(*file)));
        } catch (const keys::KeyFileError& e) {
          if (!key_file_error(reader, "private_key_file", e)) interface_.private_key_unread = e.what();
        }
      }
    } else if (std::string* text = reader.secret_string("private_key")) {
      check_inline_secret(reader, "private_key", "private_key_file");
      auto key = keys::parse_private_key(*text);
      sodium_memzero(text->data(), text->size());
      if (key) {
        interface_.private_key.emplace(std::move(*key));
      } else {
        reader.error("private_key", "not a private key; " + key.error());
      }
    }

    if (const auto listen = reader.string("listen", R"(an IP address and port such as "0.0.0.0:7424")")) {
      if (auto address = parse_socket_address(*listen)) {
        interface_.listen = *address;
      } else {
        reader.error("listen", address.error());
      }
    }
    if (const auto socket = reader.string("control_socket", "a path such as \"/run/mailtun/vps.sock\"")) {
      if (socket->empty()) {
        reader.error("control_socket", "empty; expected a path such as \"/run/mailtun/vps.sock\"");
      } else {
        interface_.control_socket = resolve(*socket);
      }
    }
    if (const auto metrics = reader.string("metrics_listen", R"(an IP address and port such as "127.0.0.1:9424")")) {
      if (auto address = parse_socket_address(*metrics)) {
        interface_.metrics_listen = *address;
      } else {
        reader.error("metrics_listen", address.error());
      }
    }
    if (const auto directory = reader.string("peers_dir", peers_dir_expected)) {
      if (directory->empty()) {
        reader.error("peers_dir", "empty; expected " + std::string(peers_dir_expected));
      } else {
        interface_.peers_dir = resolve(*directory);
      }
    }
    interface_.reader.emplace(std::move(reader));
  }

  static constexpr std::string_view peers_dir_expected =
      R"(a directory of *.toml files, one per office, such as "/etc/mailtun/vps.d")";

  /// interface.peers_dir: every *.toml file in it, in name order, read as if its [[peer]],
  /// [[forward]] and [[expose]] tables were written in the main file. Whoever can write there can
  /// add a peer and an expose, so the directory is held to the main file's rules.
  void read_peers_dir(const std::filesystem::path& directory) {
    const TableReader& r = *interface_.reader;
    const std::string name = directory.string();
    struct stat status {};
    if (::stat(name.c_str(), &status) != 0) {
      if (errno == ENOENT) {
        r.error("peers_dir", name + " does not exist; expected " + std::string(peers_dir_expected) +
                                 "; create it with: mkdir -m 0750 " + name);
      } else {
        r.error("peers_dir", name + ": " + std::strerror(errno) + "; expected a directory this user can read");
      }
      return;
    }
    if (!S_ISDIR(status.st_mode)) {
      r.error("peers_dir", name + " is not a directory; expected " + std::string(peers_dir_expected));
      return;
    }
    if (const auto problem = unsafe_writers(status, name)) return r.error("peers_dir", name + " " + *problem);
    std::vector<std::filesystem::path> fragments;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(directory, ec)) {
      const std::string file_name = entry.path().filename().string();
      // As the shell's *.toml: hidden files (an editor's) are not read.
      if (entry.path().extension() == ".toml" && !file_name.starts_with('.')) fragments.push_back(entry.path());
    }
    if (ec) {
      r.error("peers_dir", name + ": " + ec.message() + "; expected a directory this user can read");
      return;
    }
    std::ranges::sort(fragments);
    for (const std::filesystem::path& fragment : fragments) read_fragment(fragment);
  }

  void read_fragment(const std::filesystem::path& fragment) {
    problems_.begin_file(fragment.string());
    files_.push_back({.directory = directory_of(fragment)});
    std::string text;
  const WipeOnExit wipe(text);
    try {
      files_.back().mode = read_config_text(fragment, text);
    } catch (const FileRefused& e) {
      problems_.add_whole_file(e.reason);
      return;
    }
    toml::table& root = *fragment_roots_.emplace_back(std::make_unique<toml::table>());
    try {
      root = toml::parse(text, fragment.string());
    } catch (const toml::parse_error& e) {
      problems_.add_syntax(e);
      return;
    }
    check_top_level(root, true);
    for_each_table(root, "peer", &Loader::read_peer);
    for_each_table(root, "forward", &Loader::read_forward);
    for_each_table(root, "expose", &Loader::read_expose);
  }

  void read_peer(TableReader reader) {
    PeerDraft peer{std::move(reader)};
    const TableReader& r = peer.reader;
    if (const auto name = r.required_string("name", "the peer's name, such as \"office\"")) {
      if (valid_name(*name)) {
        peer.name = *name;
      } else {
        r.error("name", quote_value(*name) + " is not a valid name; expected " + std::string(name_rule));
      }
    }
    constexpr std::string_view public_key_expected =
        "44 base64 characters as printed by `mailtun pubkey` on the peer's private key";
    if (const auto text = r.required_string("public_key", public_key_expected)) {
      if (auto key = keys::parse_public_key(*text)) {
        peer.public_key = *key;
      } else {
        // A public key is not secret; quoting it helps spot a truncated paste.
        r.error("public_key", quote_value(*text) + " is not a public key; expected " + std::string(public_key_expected));
      }
    }

    const bool has_file = r.has("preshared_key_file");
    const bool has_inline = r.has("preshared_key");
    if (has_file && has_inline) {
      r.error("preshared_key", "set together with preshared_key_file; expected at most one of the two");
    } else if (has_file) {
      if (const auto file = r.string("preshared_key_file", "a path such as \"/etc/mailtun/office.psk\"")) {
        try {
          peer.psk = keys::load_preshared_key_file(key_file(*file));
        } catch (const keys::KeyFileError& e) {
          peer.psk_unread = !key_file_error(r, "preshared_key_file", e);
        }
      }
    } else if (std::string* text = r.secret_string("preshared_key")) {
      check_inline_secret(r, "preshared_key", "preshared_key_file");
      auto key = keys::parse_preshared_key(*text);
      sodium_memzero(text->data(), text->size());
      if (key) {
        peer.psk = std::move(*key);
      } else {
        r.error("preshared_key", "not a preshared key; " + key.error());
      }
    }

    if (const auto endpoint = r.string("endpoint", "the peer's address, such as \"vps.example.org:7424\"")) {
      if (auto host_port = parse_host_port(*endpoint)) {
        peer.endpoint = *host_port;
      } else {
        r.error("endpoint", host_port.error());
      }
    }
    if (const auto seconds = r.integer("keepalive", min_keepalive, max_keepalive, " (seconds)")) {
      peer.keepalive = std::chrono::seconds(*seconds);
    }
    if (const auto count = r.integer("max_streams", min_max_streams, max_max_streams, "")) {
      peer.max_streams = static_cast<std::size_t>(*count);
    }
    if (const auto seconds = r.integer("max_session_age", min_session_age, max_session_age, " (seconds)")) {
      peer.max_session_age = std::chrono::seconds(*seconds);
    }
    peers_.push_back(std::move(peer));
  }

  /// The service name, checked (DESIGN §4.3), and its protocol: the explicit `protocol` key, else
  /// the default of DESIGN §6.
  void read_service(const TableReader& r, std::optional<std::string>& service,
                    std::optional<forwarder::Protocol>& protocol) {
    constexpr std::string_view service_expected = R"(1 to 32 characters of a-z, 0-9 and "-", such as "lmtp")";
    if (const auto name = r.required_string("service", service_expected)) {
      if (tunnel::valid_service_name(*name)) {
        service = *name;
      } else {
        r.error("service", quote_value(*name) + " is not a service name; expected " + std::string(service_expected));
      }
    }
    if (r.has("protocol")) {
      if (const auto name = r.string("protocol", protocol_list)) {
        if (const auto parsed = forwarder::parse_protocol(*name)) {
          protocol = parsed;
        } else {
          r.error("protocol", quote_value(*name) + " is not a protocol; expected " + std::string(protocol_list));
        }
      }
    } else if (service) {
      protocol = forwarder::protocol_for_service(*service);
      if (!protocol) {
        r.add(r.line("service"), r.name("protocol"),
                      "not set, and service " + quote_value(*service) +
                          " has no default protocol; expected protocol = \"…\" in this table: " +
                          std::string(protocol_list) + " (tcp if none of these fits)");
      }
    }
  }

  void read_forward(TableReader reader) {
    ForwardDraft forward{std::move(reader)};
    const TableReader& r = forward.reader;
    read_service(r, forward.service, forward.protocol);
    constexpr std::string_view listen_expected = R"(the local address to listen on, such as "127.0.0.1:24")";
    if (const auto listen = r.required_string("listen", listen_expected)) {
      if (auto address = parse_socket_address(*listen)) {
        forward.listen = *address;
      } else {
        r.error("listen", address.error());
      }
    }
    read_forward_peers(forward);
    forward.allow_public = r.boolean("allow_public").value_or(false);
    forwards_.push_back(std::move(forward));
  }

  /// `peer = "office"`, or `peers = ["vps1", "vps2"]` for failover: one of the two.
  void read_forward_peers(ForwardDraft& forward) {
    const TableReader& r = forward.reader;
    constexpr std::string_view peer_expected =
        R"(the name of a [[peer]], such as "office" (or peers = ["vps1", "vps2"] for failover))";
    constexpr std::string_view peers_expected = R"(the names of [[peer]]s in order of preference, such as ["vps1", "vps2"])";
    if (r.has("peer") && r.has("peers")) {
      r.error("peers", "given together with peer; expected either peer = \"name\" or peers = [\"name\", …], not both");
      return;
    }
    if (!r.has("peers")) {
      if (auto name = r.required_string("peer", peer_expected)) forward.peers = std::vector<std::string>{std::move(*name)};
      return;
    }
    forward.peers_listed = true;
    auto names = r.strings("peers", peers_expected);
    if (!names) return;
    if (names->empty()) return r.error("peers", "empty; expected " + std::string(peers_expected));
    for (std::size_t i = 0; i < names->size(); ++i) {
      if (std::find(names->begin(), names->begin() + static_cast<std::ptrdiff_t>(i), (*names)[i]) !=
          names->begin() + static_cast<std::ptrdiff_t>(i)) {
        return r.error("peers", i, quote_value((*names)[i]) + " is listed twice; expected each peer once");
      }
    }
    forward.peers = std::move(*names);
  }

  void read_expose(TableReader reader) {
    ExposeDraft expose{std::move(reader)};
    const TableReader& r = expose.reader;
    read_service(r, expose.service, expose.protocol);
    constexpr std::string_view target_expected = R"(the local server's address, such as "127.0.0.1:24")";
    if (const auto target = r.required_string("target", target_expected)) {
      if (auto host_port = parse_host_port(*target)) {
        expose.target = *host_port;
      } else {
        r.error("target", host_port.error());
      }
    }
    constexpr std::string_view peers_expected = R"(the names of the peers that may open this service, such as ["office"])";
    if (!r.has("peers")) {
      r.missing("peers", peers_expected);
    } else if (auto names = r.strings("peers", peers_expected)) {
      if (names->empty()) {
        r.error("peers", "empty; expected " + std::string(peers_expected));
      } else {
        expose.peers = std::move(*names);
      }
    }
    if (const auto word = r.string("proxy_protocol", R"("v1", "v2" or "none")")) {
      if (*word == "none") {
        expose.proxy_protocol.reset();
      } else if (*word == "v1") {
        expose.proxy_protocol = forwarder::ProxyVersion::v1;
      } else if (*word == "v2") {
        expose.proxy_protocol = forwarder::ProxyVersion::v2;
      } else {
        r.error("proxy_protocol", quote_value(*word) + " is not a PROXY protocol version; expected \"v1\", \"v2\" or \"none\"");
      }
    }
    read_proxy_sources(r, expose.proxy_sources);
    expose.allow_any_port = r.boolean("allow_any_port").value_or(false);
    exposes_.push_back(std::move(expose));
  }

  /// DESIGN §7: `proxy_sources`, the client addresses a peer may claim (forwarder::ProxySources).
  static void read_proxy_sources(const TableReader& r, std::vector<forwarder::AddressPrefix>& sources) {
    constexpr std::string_view expected = R"(address prefixes such as ["192.0.2.0/24", "2001:db8::/32"])";
    const auto texts = r.strings("proxy_sources", expected);
    if (!texts) return;
    if (texts->empty()) {
      r.error("proxy_sources", "empty, so every stream would be refused; expected " + std::string(expected) +
                                   ", or no proxy_sources to allow any address but this host's own");
      return;
    }
    sources.clear();
    for (std::size_t i = 0; i < texts->size(); ++i) {
      if (auto prefix = forwarder::parse_address_prefix((*texts)[i])) {
        sources.push_back(*prefix);
      } else {
        r.error("proxy_sources", i, quote_value((*texts)[i]) + " " + prefix.error());
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Cross-checks, each reported where the later of two clashing entries is.

  void check_peers() {
    // The earlier peers of each name and each key: a VPS with a peers_dir may have 1000 offices,
    // too many to compare pairwise on every reload.
    std::map<std::string_view, std::vector<std::size_t>> by_name;
    std::map<std::array<std::uint8_t, keys::key_size>, std::vector<std::size_t>> by_key;
    std::optional<keys::PublicKey> own_public_key;
    if (interface_.private_key) own_public_key = interface_.private_key->public_key();
    for (std::size_t i = 0; i < peers_.size(); ++i) {
      const PeerDraft& peer = peers_[i];
      const TableReader& r = peer.reader;
      if (peer.name) {
        std::vector<std::size_t>& same = by_name[*peer.name];
        for (const std::size_t j : same) {
          const TableReader& earlier = peers_[j].reader;
          r.error("name", quote_value(*peer.name) + " is also the name of " + earlier.prefix() + " (" +
                              earlier.place("name", r) + "); expected a different name for each peer");
        }
        same.push_back(i);
      }
      if (peer.public_key) {
        std::array<std::uint8_t, keys::key_size> bytes{};
        std::ranges::copy(peer.public_key->bytes(), bytes.begin());
        std::vector<std::size_t>& same = by_key[bytes];
        for (const std::size_t j : same) {
          const TableReader& earlier = peers_[j].reader;
          r.error("public_key", "the same key as " + earlier.prefix() + " (" + earlier.place("public_key", r) +
                                    "); expected a different public key for each peer");
        }
        same.push_back(i);
      }
      if (peer.public_key && interface_.private_key) {
        if (*peer.public_key == *own_public_key) {
          r.error("public_key",
                  "this is this endpoint's own public key; expected the other endpoint's public key "
                  "(`mailtun pubkey` on the other endpoint's private key)");
        } else if (sodium_memcmp(peer.public_key->bytes().data(), interface_.private_key->bytes().data(),
                                 keys::key_size) == 0) {
          // Not echoed: it is a secret, pasted where the public key belongs.
          r.error("public_key",
                  "this is this endpoint's private key, which must never leave this machine; expected the other "
                  "endpoint's public key (`mailtun pubkey` on the other endpoint's private key)");
        }
      }
      if (interface_.reader && !interface_.listen && !interface_.reader->has("listen") && !peer.endpoint &&
          !r.has("endpoint")) {
        r.add(r.table_line(), r.name("endpoint"),
                      "not set, and interface.listen is not set either, so nothing would ever connect to this "
                      "peer; expected endpoint = \"host:port\" here on the side that dials out (the office), or "
                      "listen = \"0.0.0.0:7424\" in [interface] on the side that accepts (the VPS)");
      }
    }
  }

  /// The peer called `name` was configured (even if the rest of its table has errors, which are
  /// reported there); otherwise reports KEY and suggests the closest name.
  void check_peer_reference(const TableReader& r, const std::string& key, const std::string& name, std::uint32_t line) {
    if (!peer_names_) {
      // Once for all references: there may be a forward per office.
      PeerNames& known = peer_names_.emplace();
      for (const PeerDraft& peer : peers_) {
        // Duplicate names are reported at the peer; list each once here.
        if (!peer.name) {
          known.some_unnamed = true;
        } else if (known.set.insert(*peer.name).second) {
          known.in_order.push_back(*peer.name);
        }
      }
    }
    const std::vector<std::string_view>& names = peer_names_->in_order;
    if (peer_names_->set.contains(name)) return;
    // No peers at all, or one whose name is missing or invalid: reported already, and the one
    // meant may be among them.
    if (peers_.empty() || peer_names_->some_unnamed) return;
    std::string message = quote_value(name) + " is not the name of any [[peer]]";
    if (const auto guess = closest(name, names)) {
      message += "; did you mean \"" + std::string(*guess) + "\"?";
    } else {
      std::vector<std::string> quoted_names;
      for (const auto n : names) quoted_names.push_back(quote_value(n));
      std::vector<std::string_view> views(quoted_names.begin(), quoted_names.end());
      message += "; expected " + joined(views, " or ");
    }
    r.add(line, key, message);
  }

  void check_forwards() {
    // Every address a listener of this endpoint binds, to find two that would clash at bind().
    struct Bound {
      SocketAddress address;
      const TableReader* reader;
      std::string key;
    };
    // Only listeners on one port can clash: by port, so 1000 forwards are not compared pairwise.
    std::map<std::uint16_t, std::vector<Bound>> bound;
    const auto overlaps = [](const SocketAddress& a, const SocketAddress& b) {
      // A wildcard takes the port on every address of its family; "::" on Linux takes IPv4 too.
      const auto covers = [](const SocketAddress& wild, const SocketAddress& other) {
        return wild.is_wildcard() && (wild.ipv6 || !other.ipv6);
      };
      return a.port == b.port && (a == b || covers(a, b) || covers(b, a));
    };
    // Reports `key` of `r` if its address clashes with one taken before, then takes it.
    const auto take = [&](const TableReader& r, std::string_view key, const SocketAddress& address) {
      std::vector<Bound>& same_port = bound[address.port];
      for (const Bound& other : same_port) {
        if (overlaps(address, other.address)) {
          r.error(key, address.to_string() + " clashes with " + other.address.to_string() + " of " +
                           other.reader->name(other.key) + " (" + other.reader->place(other.key, r) +
                           "); expected a different address or port for each listener");
          break;
        }
      }
      same_port.push_back({address, &r, std::string(key)});
    };
    if (interface_.listen) take(*interface_.reader, "listen", *interface_.listen);
    if (interface_.metrics_listen) take(*interface_.reader, "metrics_listen", *interface_.metrics_listen);
    for (const ForwardDraft& forward : forwards_) {
      const TableReader& r = forward.reader;
      for (std::size_t k = 0; forward.peers && k < forward.peers->size(); ++k) {
        if (!forward.peers_listed) {
          check_peer_reference(r, r.name("peer"), (*forward.peers)[k], r.line("peer"));
        } else {
          check_peer_reference(r, r.name("peers") + "[" + std::to_string(k) + "]", (*forward.peers)[k], r.line("peers", k));
        }
      }
      if (!forward.listen) continue;
      // DESIGN §6: the exposure guard.
      if (forward.service && forward.protocol) {
        if (const auto danger = forwarder::check_forward_exposure(*forward.service, *forward.protocol,
                                                                 forward.listen->is_loopback(), forward.allow_public)) {
          r.error("listen", forward.listen->to_string() + " is not a loopback address, and " + *danger +
                                "; expected a loopback address such as \"127.0.0.1:" +
                                std::to_string(forward.listen->port) +
                                "\", or allow_public = true in this [[forward]] if a firewall keeps the network out");
        }
      }
      take(r, "listen", *forward.listen);
    }
  }

  void check_exposes() {
    for (std::size_t i = 0; i < exposes_.size(); ++i) {
      const ExposeDraft& expose = exposes_[i];
      const TableReader& r = expose.reader;
      for (std::size_t j = 0; j < i; ++j) {
        const ExposeDraft& earlier = exposes_[j];
        if (expose.service && earlier.service && *expose.service == *earlier.service) {
          r.error("service", quote_value(*expose.service) + " is already exposed by " + earlier.reader.prefix() +
                                 " (" + earlier.reader.place("service", r) +
                                 "); expected each service name once (list several peers in one expose's peers)");
          break;
        }
      }
      if (expose.peers) {
        for (std::size_t k = 0; k < expose.peers->size(); ++k) {
          check_peer_reference(r, r.name("peers") + "[" + std::to_string(k) + "]", (*expose.peers)[k],
                               r.line("peers", k));
        }
      }
      // DESIGN §6: the mail-port guard.
      if (expose.target && expose.service) {
        if (const auto refusal = forwarder::check_expose_port(*expose.service, expose.target->port, expose.allow_any_port)) {
          r.error("target", *refusal);
        }
      }
    }
  }

  Config build() {
    if (interface_.private_key_unread) interface_.private_key.emplace(keys::PrivateKey::generate());  // see PeerSideConfig
    std::filesystem::path control_socket = interface_.control_socket.value_or(default_control_socket(*interface_.name));
    Config config{
        .path = path_,
        .interface = Interface{.name = std::move(*interface_.name),
                               .private_key = std::move(*interface_.private_key),
                               .listen = interface_.listen,
                               .control_socket = std::move(control_socket),
                               .metrics_listen = interface_.metrics_listen},
    };
    for (PeerDraft& peer : peers_) {
      config.peers.push_back(Peer{.name = std::move(*peer.name),
                                  .public_key = *peer.public_key,
                                  .psk = std::move(peer.psk),
                                  .endpoint = peer.endpoint,
                                  .keepalive = peer.keepalive,
                                  .max_streams = peer.max_streams,
                                  .max_session_age = peer.max_session_age});
    }
    for (ForwardDraft& forward : forwards_) {
      config.forwards.push_back(Forward{.service = std::move(*forward.service),
                                        .listen = *forward.listen,
                                        .peers = std::move(*forward.peers),
                                        .protocol = *forward.protocol,
                                        .allow_public = forward.allow_public});
    }
    for (ExposeDraft& expose : exposes_) {
      config.exposes.push_back(Expose{.service = std::move(*expose.service),
                                      .target = *expose.target,
                                      .peers = std::move(*expose.peers),
                                      .protocol = *expose.protocol,
                                      .proxy_protocol = expose.proxy_protocol,
                                      .proxy_sources = std::move(expose.proxy_sources),
                                      .allow_any_port = expose.allow_any_port});
    }
    return config;
  }

  /// What the checks need to know of each file read, by its index in problems_.
  struct FileRead {
    std::optional<mode_t> mode;  // none for text given to parse_config
    std::filesystem::path directory;
    bool inline_secret_checked = false;
  };

  std::filesystem::path path_;
  Problems problems_;
  std::vector<FileRead> files_;
  // The parsed files of peers_dir, which the TableReaders in the drafts point into.
  std::vector<std::unique_ptr<toml::table>> fragment_roots_;
  KeyFiles key_files_;
  std::string credentials_directory_;
  InterfaceDraft interface_;
  std::vector<PeerDraft> peers_;
  std::vector<ForwardDraft> forwards_;
  std::vector<ExposeDraft> exposes_;
  /// The names of peers_, for check_peer_reference, once they are all read.
  std::optional<PeerNames> peer_names_;
};

std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) {
    if (!text.empty()) text += '\n';
    text += line;
  }
  return text;
}

}  // namespace

const Peer* Config::find_peer(std::string_view name) const {
  const auto it = std::ranges::find(peers, name, &Peer::name);
  return it == peers.end() ? nullptr : &*it;
}

ConfigError::ConfigError(std::vector<std::string> errors)
    : CommandError(ExitCode::usage, join_lines(errors)), errors_(std::move(errors)) {}

Config parse_config(std::string_view text, const std::filesystem::path& path) {
  return Loader(path, std::nullopt, KeyFiles::required).load(text).config;
}

namespace {

PeerSideConfig read_and_load(const std::filesystem::path& path, KeyFiles key_files) {
  std::string text;
  const WipeOnExit wipe(text);
  mode_t mode = 0;
  try {
    mode = read_config_text(path, text);
  } catch (const FileRefused& e) {
    throw ConfigError({path.string() + ": " + e.reason});
  }
  return Loader(path, mode, key_files).load(text);
}

}  // namespace

Config load_config(const std::filesystem::path& path) { return read_and_load(path, KeyFiles::required).config; }

PeerSideConfig load_peer_side_config(const std::filesystem::path& path) {
  return read_and_load(path, KeyFiles::may_be_unreadable);
}

}  // namespace mailtun::cli