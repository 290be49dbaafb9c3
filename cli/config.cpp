#include "cli/config.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <span>
#include <system_error>
#include <toml++/toml.h>
#include <utility>

#include "keys/base64.hpp"
#include "keys/key_file.hpp"
#include "tunnel/frame.hpp"

namespace mailtun::cli {

namespace {

// A configuration file is a few kilobytes; the cap only stops `--config /dev/zero` from eating memory.
constexpr std::size_t max_config_size = 1024 * 1024;

constexpr std::int64_t min_keepalive = 1;
constexpr std::int64_t max_keepalive = 3600;
constexpr std::int64_t min_max_streams = 1;
constexpr std::int64_t max_max_streams = 65536;
constexpr std::size_t max_name_length = 64;

constexpr std::string_view protocol_list = "one of lmtp, smtp, imap, pop3, managesieve, sasl or tcp";
constexpr std::string_view address_example = R"(such as "127.0.0.1:24" or "[::1]:24")";
constexpr std::string_view interface_listen_expected = R"(an IP address and port such as "0.0.0.0:7424")";

// ---------------------------------------------------------------------------------------------
// Text helpers

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
         c == '=';
}

/// True if `text` holds something as long as a base64 key (44 characters) or nearly: such text is
/// never shown, whatever key it was found under, since a private key pasted into the wrong place
/// is still a private key.
bool looks_like_key(std::string_view text) {
  constexpr std::size_t shortest_hidden = 40;
  std::size_t run = 0;
  for (const char c : text) {
    run = is_base64_char(c) ? run + 1 : 0;
    if (run >= shortest_hidden) return true;
  }
  return false;
}

/// A value as it appears in a message: in double quotes, control and non-ASCII bytes escaped so a
/// stray byte cannot garble the terminal, cut short if long, and withheld if it could be a key.
std::string quote_value(std::string_view text) {
  if (looks_like_key(text)) return "(a value that looks like a key, not shown)";
  constexpr std::size_t max_shown = 60;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < max_shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      static constexpr std::string_view hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0x0f];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > max_shown) out += "…";
  return out + "\"";
}

/// The TOML type of a node, worded to follow "got".
std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::none: break;
  }
  return "nothing";
}

/// Lowercase without '_' and '-', so `PublicKey`, `publickey` and `public-key` all meet
/// `public_key` (WireGuard's own files spell keys in CamelCase).
std::string normalised(std::string_view key) {
  std::string out;
  for (const char c : key) {
    if (c == '_' || c == '-') continue;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// The candidate that `word` is most likely a typo of, if any is close enough to be worth
/// suggesting: equal once case and separators are ignored, a WireGuard spelling, or within a
/// couple of edits (one for short words, where two edits reach almost anything).
std::optional<std::string_view> closest(std::string_view word, std::span<const std::string_view> candidates) {
  const std::string norm = normalised(word);
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 2> wireguard_names{{
      {"persistentkeepalive", "keepalive"},
      {"listenport", "listen"},
  }};
  for (const auto& [wg, ours] : wireguard_names) {
    if (norm == wg && std::ranges::find(candidates, ours) != candidates.end()) return ours;
  }
  std::optional<std::string_view> best;
  std::size_t best_distance = norm.size() <= 4 ? 1 : 2;
  for (const std::string_view candidate : candidates) {
    const std::size_t distance = edit_distance(norm, normalised(candidate));
    if (distance == 0) return candidate;
    if (distance <= best_distance && (!best || distance < best_distance)) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string joined(std::span<const std::string_view> words, std::string_view last_separator) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += i + 1 == words.size() ? last_separator : std::string_view(", ");
    out += words[i];
  }
  return out;
}

/// Toml++'s syntax error descriptions quote single characters, but a run of base64 in one could
/// only be part of a key, so it is cut out rather than trusted not to be.
std::string without_base64_runs(std::string_view text) {
  constexpr std::size_t longest_allowed = 16;
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = i;
    while (j < text.size() && is_base64_char(text[j])) ++j;
    if (j - i > longest_allowed) {
      out += "…";
    } else {
      out.append(text.substr(i, j - i));
    }
    if (j < text.size()) out += text[j];
    i = j + 1;
  }
  return out;
}

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= max_name_length && std::ranges::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

constexpr std::string_view name_rule = R"(1 to 64 letters, digits, ".", "_" or "-")";

// ---------------------------------------------------------------------------------------------
// Addresses

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5 || !std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  unsigned value = 0;
  for (const char c : text) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value < 1 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

/// "host:port" split at the port's colon; `bracketed` if the host was in [ ].
struct SplitHostPort {
  std::string_view host;
  std::string_view port;
  bool bracketed = false;
};

/// Splits; on failure returns what is wrong, worded to be followed by "; expected …".
tl::expected<SplitHostPort, std::string> split_host_port(std::string_view text) {
  if (text.empty()) return tl::unexpected(std::string("empty"));
  SplitHostPort split;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return tl::unexpected(quote_value(text) + " has no closing \"]\"");
    split.host = text.substr(1, close - 1);
    split.bracketed = true;
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return tl::unexpected(quote_value(text) + " has no port after the address");
    }
    split.port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return tl::unexpected(quote_value(text) + " has no port");
    split.host = text.substr(0, colon);
    split.port = text.substr(colon + 1);
    if (split.host.find(':') != std::string_view::npos) {
      return tl::unexpected(quote_value(text) + " looks like an IPv6 address without brackets");
    }
  }
  if (split.host.empty()) return tl::unexpected(quote_value(text) + " has no address before the port");
  if (!parse_port(split.port)) {
    return tl::unexpected(quote_value(text) + " has port " + quote_value(split.port) +
                          ", which is not a number from 1 to 65535");
  }
  return split;
}

bool is_dns_name(std::string_view host) {
  if (host.back() == '.') host.remove_suffix(1);  // a fully qualified name
  if (host.empty() || host.size() > 253) return false;
  std::size_t start = 0;
  while (start <= host.size()) {
    const std::size_t dot = std::min(host.find('.', start), host.size());
    const std::string_view label = host.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    const bool ok = std::ranges::all_of(label, [](char c) {
      // '_' is not valid in DNS host names, but /etc/hosts and internal resolvers accept it.
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
    if (!ok) return false;
    start = dot + 1;
  }
  // All digits and dots would be taken by the resolver as a (bad) IPv4 address, not a name.
  return !std::ranges::all_of(host, [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

std::string canonical_ip(int family, const void* bytes) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  ::inet_ntop(family, bytes, text.data(), text.size());
  return text.data();
}

// ---------------------------------------------------------------------------------------------
// The schema: which tables exist and which keys each accepts.

constexpr std::array<std::string_view, 5> interface_keys{"name", "private_key_file", "private_key", "listen",
                                                          "control_socket"};
constexpr std::array<std::string_view, 7> peer_keys{"name",          "public_key", "preshared_key_file",
                                                     "preshared_key", "endpoint",   "keepalive",
                                                     "max_streams"};
constexpr std::array<std::string_view, 4> forward_keys{"service", "listen", "peer", "protocol"};
constexpr std::array<std::string_view, 6> expose_keys{"service",  "target",         "peers",
                                                      "protocol", "proxy_protocol", "allow_any_port"};

struct TableKind {
  std::string_view name;     // the key at the top of the file
  std::string_view heading;  // as written in the file
  std::span<const std::string_view> keys;
};

constexpr std::array<TableKind, 4> table_kinds{{
    {"interface", "[interface]", interface_keys},
    {"peer", "[[peer]]", peer_keys},
    {"forward", "[[forward]]", forward_keys},
    {"expose", "[[expose]]", expose_keys},
}};
constexpr std::array<std::string_view, 4> top_level_names{"interface", "peer", "forward", "expose"};

const TableKind& kind(std::string_view name) {
  return *std::ranges::find(table_kinds, name, &TableKind::name);
}

/// For an unknown key: the headings of the tables where it is a known key, e.g. "[interface] or
/// [[forward]]" for `listen`; empty if none.
std::string tables_with_key(std::string_view key) {
  std::vector<std::string_view> headings;
  for (const TableKind& k : table_kinds) {
    if (std::ranges::find(k.keys, key) != k.keys.end()) headings.push_back(k.heading);
  }
  return joined(headings, " or ");
}

// ---------------------------------------------------------------------------------------------
// The loader

struct Problem {
  std::uint32_t line;
  std::string text;
};

/// Where errors go while a file is checked. Collects them all; nothing throws until the end.
class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}

  void add(std::uint32_t line, std::string_view key, std::string_view message) {
    list_.push_back({line, file_ + ":" + std::to_string(line) + ": " + std::string(key) + ": " + std::string(message)});
  }
  /// A TOML syntax error, which toml++ places at a line and column.
  void add_syntax(const toml::parse_error& e) {
    const auto& where = e.source().begin;
    list_.push_back({where.line, file_ + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                                     ": invalid TOML: " + without_base64_runs(e.description()) +
                                     "; expected TOML (https://toml.io): strings in double quotes, tables "
                                     "as [interface] and [[peer]]"});
  }
  [[nodiscard]] bool empty() const { return list_.empty(); }
  [[nodiscard]] const std::string& file() const { return file_; }

  /// Throws ConfigError with every problem, in the order of the file.
  [[noreturn]] void raise() {
    std::ranges::stable_sort(list_, {}, &Problem::line);
    std::vector<std::string> lines;
    lines.reserve(list_.size());
    for (Problem& p : list_) lines.push_back(std::move(p.text));
    throw ConfigError(std::move(lines));
  }

 private:
  std::string file_;
  std::vector<Problem> list_;
};

std::uint32_t line_of(const toml::node& node) { return node.source().begin.line; }

/// One table of the file being read: reports its unknown keys on construction, and offers typed
/// accessors that report a wrong type and return nullopt, so a caller only handles good values.
class TableReader {
 public:
  TableReader(Problems& problems, toml::table& table, std::string prefix, const TableKind& table_kind)
      : problems_(&problems), table_(&table), prefix_(std::move(prefix)) {
    for (auto&& [key, value] : table) {
      if (std::ranges::find(table_kind.keys, key.str()) != table_kind.keys.end()) continue;
      std::string message = "unknown key";
      if (const auto guess = closest(key.str(), table_kind.keys)) {
        message += "; did you mean `" + std::string(*guess) + "`?";
      } else if (const std::string elsewhere = tables_with_key(key.str()); !elsewhere.empty()) {
        message += " in " + std::string(table_kind.heading) + "; it belongs in " + elsewhere;
      } else {
        message += "; expected one of " + joined(table_kind.keys, " or ");
      }
      // The value is not shown: an unknown key may well be a misspelt private_key.
      problems.add(line_of(value), looks_like_key(key.str()) ? prefix_ + ".(a key name like a key)" : name(key.str()),
                   message);
    }
  }

  [[nodiscard]] const std::string& prefix() const { return prefix_; }
  [[nodiscard]] std::string name(std::string_view key) const { return prefix_ + "." + std::string(key); }
  [[nodiscard]] bool has(std::string_view key) const { return table_->contains(key); }
  [[nodiscard]] std::uint32_t table_line() const { return line_of(*table_); }
  /// The line of `key`'s value, or of the table's heading when the key is absent.
  [[nodiscard]] std::uint32_t line(std::string_view key) const {
    const toml::node* node = table_->get(key);
    return node != nullptr ? line_of(*node) : table_line();
  }
  /// The line of element `index` of the array at `key`, or line(key).
  [[nodiscard]] std::uint32_t line(std::string_view key, std::size_t index) const {
    const toml::array* array = table_->get_as<toml::array>(key);
    const toml::node* element = array != nullptr ? array->get(index) : nullptr;
    return element != nullptr ? line_of(*element) : line(key);
  }

  void error(std::string_view key, std::string_view message) const { problems_->add(line(key), name(key), message); }
  void missing(std::string_view key, std::string_view expected) const {
    problems_->add(table_line(), name(key), "missing; expected " + std::string(expected));
  }

  /// The string at `key`, or nullopt if absent or (reported) not a string. `expected` describes a
  /// good value for the message, e.g. R"(an address such as "127.0.0.1:24")".
  [[nodiscard]] std::optional<std::string> string(std::string_view key, std::string_view expected) const {
    const toml::node* node = table_->get(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* value = node->as_string()) return value->get();
    wrong_type(key, *node, std::string(expected) + ", in double quotes");
    return std::nullopt;
  }

  /// As string(), and reports a missing key.
  [[nodiscard]] std::optional<std::string> required_string(std::string_view key, std::string_view expected) const {
    if (!has(key)) {
      missing(key, expected);
      return std::nullopt;
    }
    return string(key, expected);
  }

  /// The string of a secret, by reference so the caller can wipe toml++'s copy once it is parsed.
  [[nodiscard]] std::string* secret_string(std::string_view key) const {
    toml::node* node = table_->get(key);
    if (node == nullptr) return nullptr;
    if (auto* value = node->as_string()) return &value->get();
    wrong_type(key, *node, "44 base64 characters in double quotes");
    return nullptr;
  }

  /// The integer at `key` if it lies in [low, high]; `unit` completes the range in messages.
  [[nodiscard]] std::optional<std::int64_t> integer(std::string_view key, std::int64_t low, std::int64_t high,
                                                    std::string_view unit) const {
    const toml::node* node = table_->get(key);
    if (node == nullptr) return std::nullopt;
    const std::string range = std::to_string(low) + " to " + std::to_string(high) + std::string(unit);
    const auto* value = node->as_integer();
    if (value == nullptr) {
      wrong_type(key, *node, "an integer from " + range);
      return std::nullopt;
    }
    if (value->get() < low || value->get() > high) {
      error(key, std::to_string(value->get()) + " is out of range; expected " + range);
      return std::nullopt;
    }
    return value->get();
  }

  [[nodiscard]] std::optional<bool> boolean(std::string_view key) const {
    const toml::node* node = table_->get(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* value = node->as_boolean()) return value->get();
    wrong_type(key, *node, "true or false (without quotes)");
    return std::nullopt;
  }

  /// An array of strings; each bad element is reported as KEY[i].
  [[nodiscard]] std::optional<std::vector<std::string>> strings(std::string_view key, std::string_view expected) const {
    const toml::node* node = table_->get(key);
    if (node == nullptr) return std::nullopt;
    const auto* array = node->as_array();
    if (array == nullptr) {
      wrong_type(key, *node, std::string(expected) + ", in square brackets");
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      if (const auto* value = element.as_string()) {
        out.push_back(value->get());
      } else {
        problems_->add(line_of(element), name(key) + "[" + std::to_string(i) + "]",
                       "got " + std::string(type_name(element)) + "; expected a string");
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

 private:
  void wrong_type(std::string_view key, const toml::node& node, const std::string& expected) const {
    problems_->add(line_of(node), name(key), "got " + std::string(type_name(node)) + "; expected " + expected);
  }

  Problems* problems_;
  toml::table* table_;  // not const: secret_string() wipes values in place
  std::string prefix_;
};

// What has been read of each table; optionals stay empty where the file was wrong, so the
// cross-checks can still run on the rest without repeating an error already reported.

struct InterfaceDraft {
  std::optional<TableReader> reader;
  std::optional<std::string> name;
  std::optional<keys::PrivateKey> private_key;
  std::optional<keys::PublicKey> public_key;
  std::optional<SocketAddress> listen;
  std::optional<std::filesystem::path> control_socket;
};

struct PeerDraft {
  TableReader reader;
  std::optional<std::string> name;
  std::optional<keys::PublicKey> public_key;
  keys::PresharedKey psk;
  std::optional<HostPort> endpoint;
  std::chrono::seconds keepalive = default_keepalive;
  std::size_t max_streams = default_max_streams;
};

struct ForwardDraft {
  TableReader reader;
  std::optional<std::string> service;
  std::optional<SocketAddress> listen;
  std::optional<std::string> peer;
  std::optional<forwarder::Protocol> protocol;
};

struct ExposeDraft {
  TableReader reader;
  std::optional<std::string> service;
  std::optional<HostPort> target;
  std::optional<std::vector<std::string>> peers;
  std::optional<forwarder::Protocol> protocol;
  ProxyProtocol proxy_protocol = ProxyProtocol::none;
  bool allow_any_port = false;
};

class Loader {
 public:
  Loader(const std::filesystem::path& path, std::optional<mode_t> file_mode)
      : path_(path), problems_(path.string()), file_mode_(file_mode) {
    std::error_code ignored;
    const std::filesystem::path absolute = std::filesystem::absolute(path, ignored);
    directory_ = (absolute.empty() ? path : absolute).parent_path();
  }

  Config load(std::string_view text) {
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
    for_each_table(root, "peer", [this](TableReader reader) { read_peer(std::move(reader)); });
    for_each_table(root, "forward", [this](TableReader reader) { read_forward(std::move(reader)); });
    for_each_table(root, "expose", [this](TableReader reader) { read_expose(std::move(reader)); });
    if (peers_.empty() && !root.contains("peer")) {
      problems_.add(1, "peer",
                    "no [[peer]] table; expected at least one [[peer]] with the name and public_key of "
                    "the other endpoint");
    }
    check_peers();
    check_forwards();
    check_exposes();
    if (!problems_.empty()) problems_.raise();
    return build();
  }

 private:
  /// Each top-level key must be one of the four tables, of the right kind.
  void check_top_level(toml::table& root) {
    for (auto&& [key, value] : root) {
      const std::string_view name = key.str();
      if (std::ranges::find(top_level_names, name) == top_level_names.end()) {
        std::string message;
        if (const auto guess = closest(name, top_level_names)) {
          message = std::string(value.is_table() || value.is_array() ? "unknown table" : "unknown key") +
                    "; did you mean `" + std::string(kind(*guess).heading) + "`?";
        } else if (const std::string elsewhere = tables_with_key(name); !elsewhere.empty() && !value.is_table()) {
          message = "unknown key at the top of the file; it belongs in " + elsewhere;
        } else {
          message = "unknown " + std::string(value.is_table() ? "table" : "key") +
                    "; expected only [interface], [[peer]], [[forward]] and [[expose]]";
        }
        problems_.add(line_of(value), name, message);
        continue;
      }
      const TableKind& k = kind(name);
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

  template <typename Read>
  void for_each_table(toml::table& root, std::string_view name, Read read) {
    toml::node* node = root.get(name);
    if (node == nullptr || !node->is_array_of_tables()) return;
    toml::array& array = *node->as_array();
    for (std::size_t i = 0; i < array.size(); ++i) {
      read(TableReader(problems_, *array.get(i)->as_table(), std::string(name) + "[" + std::to_string(i) + "]",
                       kind(name)));
    }
  }

  [[nodiscard]] std::filesystem::path resolve(const std::string& path) const {
    const std::filesystem::path p(path);
    return p.is_absolute() ? p : (directory_ / p).lexically_normal();
  }

  /// DESIGN §3: a secret written into the configuration file makes the file a key file, held to
  /// the same mode. Reported once per file, at the first inline secret.
  void check_inline_secret(const TableReader& reader, std::string_view key, std::string_view file_key) {
    if (!file_mode_ || inline_secret_checked_) return;
    inline_secret_checked_ = true;
    if (const auto problem = keys::unsafe_key_file_mode(*file_mode_)) {
      reader.error(key, "this file holds a secret key and is " + *problem + "; run: chmod 600 " +
                            problems_.file() + " (or move the key to a file named by " + std::string(file_key) + ")");
    }
  }

  void read_interface(toml::table& table) {
    TableReader reader(problems_, table, "interface", kind("interface"));
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
          interface_.private_key.emplace(keys::load_private_key_file(resolve(*file)));
        } catch (const keys::KeyFileError& e) {
          reader.error("private_key_file", e.what());
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
    if (interface_.private_key) interface_.public_key = interface_.private_key->public_key();

    if (const auto listen = reader.string("listen", interface_listen_expected)) {
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
    interface_.reader.emplace(std::move(reader));
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
          peer.psk = keys::load_preshared_key_file(resolve(*file));
        } catch (const keys::KeyFileError& e) {
          r.error("preshared_key_file", e.what());
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
        problems_.add(r.line("service"), r.name("protocol"),
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
    forward.peer = r.required_string("peer", "the name of a [[peer]], such as \"office\"");
    forwards_.push_back(std::move(forward));
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
        expose.proxy_protocol = ProxyProtocol::none;
      } else if (*word == "v1") {
        expose.proxy_protocol = ProxyProtocol::v1;
      } else if (*word == "v2") {
        expose.proxy_protocol = ProxyProtocol::v2;
      } else {
        r.error("proxy_protocol", quote_value(*word) + " is not a PROXY protocol version; expected \"v1\", \"v2\" or \"none\"");
      }
    }
    expose.allow_any_port = r.boolean("allow_any_port").value_or(false);
    exposes_.push_back(std::move(expose));
  }

  // -------------------------------------------------------------------------------------------
  // Cross-checks, each reported where the later of two clashing entries is.

  void check_peers() {
    for (std::size_t i = 0; i < peers_.size(); ++i) {
      const PeerDraft& peer = peers_[i];
      const TableReader& r = peer.reader;
      for (std::size_t j = 0; j < i; ++j) {
        const PeerDraft& earlier = peers_[j];
        if (peer.name && earlier.name && *peer.name == *earlier.name) {
          r.error("name", quote_value(*peer.name) + " is also the name of " + earlier.reader.prefix() + " (line " +
                              std::to_string(earlier.reader.line("name")) + "); expected a different name for each peer");
        }
        if (peer.public_key && earlier.public_key && *peer.public_key == *earlier.public_key) {
          r.error("public_key", "the same key as " + earlier.reader.prefix() + " (line " +
                                    std::to_string(earlier.reader.line("public_key")) +
                                    "); expected a different public key for each peer");
        }
      }
      if (peer.public_key && interface_.private_key) {
        if (*peer.public_key == *interface_.public_key) {
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
        problems_.add(r.table_line(), r.name("endpoint"),
                      "not set, and interface.listen is not set either, so nothing would ever connect to this "
                      "peer; expected endpoint = \"host:port\" here on the side that dials out (the office), or "
                      "listen = \"0.0.0.0:7424\" in [interface] on the side that accepts (the VPS)");
      }
    }
  }

  /// The peer called `name` was configured (even if the rest of its table has errors, which are
  /// reported there); otherwise reports KEY and suggests the closest name.
  void check_peer_reference(const std::string& key, const std::string& name, std::uint32_t line) {
    std::vector<std::string_view> names;
    for (const PeerDraft& peer : peers_) {
      // Duplicate names are reported at the peer; list each once here.
      if (peer.name && std::ranges::find(names, *peer.name) == names.end()) names.push_back(*peer.name);
    }
    if (std::ranges::find(names, name) != names.end()) return;
    // No peers at all, or one whose name is missing or invalid: reported already, and the one
    // meant may be among them.
    if (peers_.empty() || std::ranges::any_of(peers_, [](const PeerDraft& peer) { return !peer.name; })) return;
    std::string message = quote_value(name) + " is not the name of any [[peer]]";
    if (const auto guess = closest(name, names)) {
      message += "; did you mean \"" + std::string(*guess) + "\"?";
    } else {
      std::vector<std::string> quoted_names;
      for (const auto n : names) quoted_names.push_back(quote_value(n));
      std::vector<std::string_view> views(quoted_names.begin(), quoted_names.end());
      message += "; expected " + joined(views, " or ");
    }
    problems_.add(line, key, message);
  }

  void check_forwards() {
    // Every address a listener of this endpoint binds, to find two that would clash at bind().
    struct Bound {
      SocketAddress address;
      std::string owner;
      std::uint32_t line;
    };
    std::vector<Bound> bound;
    if (interface_.listen) {
      bound.push_back({*interface_.listen, "interface.listen", interface_.reader->line("listen")});
    }
    const auto overlaps = [](const SocketAddress& a, const SocketAddress& b) {
      // A wildcard takes the port on every address of its family; "::" on Linux takes IPv4 too.
      const auto covers = [](const SocketAddress& wild, const SocketAddress& other) {
        return wild.is_wildcard() && (wild.ipv6 || !other.ipv6);
      };
      return a.port == b.port && (a == b || covers(a, b) || covers(b, a));
    };
    for (const ForwardDraft& forward : forwards_) {
      const TableReader& r = forward.reader;
      if (forward.peer) check_peer_reference(r.name("peer"), *forward.peer, r.line("peer"));
      if (!forward.listen) continue;
      for (const Bound& other : bound) {
        if (overlaps(*forward.listen, other.address)) {
          r.error("listen", forward.listen->to_string() + " clashes with " + other.address.to_string() + " of " +
                                other.owner + " (line " + std::to_string(other.line) +
                                "); expected a different address or port for each listener");
          break;
        }
      }
      bound.push_back({*forward.listen, r.prefix() + ".listen", r.line("listen")});
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
                                 " (line " + std::to_string(earlier.reader.line("service")) +
                                 "); expected each service name once (list several peers in one expose's peers)");
          break;
        }
      }
      if (expose.peers) {
        for (std::size_t k = 0; k < expose.peers->size(); ++k) {
          check_peer_reference(r.name("peers") + "[" + std::to_string(k) + "]", (*expose.peers)[k],
                               r.line("peers", k));
        }
      }
      // DESIGN §6: the mail-port guard.
      if (expose.target && expose.protocol) {
        if (const auto refusal = forwarder::check_expose_port(*expose.protocol, expose.target->port, expose.allow_any_port)) {
          r.error("target", *refusal);
        }
      }
    }
  }

  Config build() {
    Config config{
        .path = path_,
        .interface = Interface{.name = std::move(*interface_.name),
                               .private_key = std::move(*interface_.private_key),
                               .listen = interface_.listen,
                               .control_socket = interface_.control_socket},
    };
    for (PeerDraft& peer : peers_) {
      config.peers.push_back(Peer{.name = std::move(*peer.name),
                                  .public_key = *peer.public_key,
                                  .psk = std::move(peer.psk),
                                  .endpoint = peer.endpoint,
                                  .keepalive = peer.keepalive,
                                  .max_streams = peer.max_streams});
    }
    for (ForwardDraft& forward : forwards_) {
      config.forwards.push_back(Forward{.service = std::move(*forward.service),
                                        .listen = *forward.listen,
                                        .peer = std::move(*forward.peer),
                                        .protocol = *forward.protocol});
    }
    for (ExposeDraft& expose : exposes_) {
      config.exposes.push_back(Expose{.service = std::move(*expose.service),
                                      .target = *expose.target,
                                      .peers = std::move(*expose.peers),
                                      .protocol = *expose.protocol,
                                      .proxy_protocol = expose.proxy_protocol,
                                      .allow_any_port = expose.allow_any_port});
    }
    return config;
  }

  std::filesystem::path path_;
  std::filesystem::path directory_;
  Problems problems_;
  std::optional<mode_t> file_mode_;
  bool inline_secret_checked_ = false;
  InterfaceDraft interface_;
  std::vector<PeerDraft> peers_;
  std::vector<ForwardDraft> forwards_;
  std::vector<ExposeDraft> exposes_;
};

/// Closes the descriptor it owns.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

// -----------------------------------------------------------------------------------------------

std::string SocketAddress::to_string() const {
  return (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

bool SocketAddress::is_wildcard() const { return address == "0.0.0.0" || address == "::"; }

std::string HostPort::to_string() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

tl::expected<SocketAddress, std::string> parse_socket_address(std::string_view text) {
  const std::string expected = std::string("; expected an IP address and port ") + std::string(address_example);
  auto split = split_host_port(text);
  if (!split) return tl::unexpected(split.error() + expected);
  const std::string host(split->host);
  SocketAddress address{.port = *parse_port(split->port), .ipv6 = split->bracketed};
  if (split->bracketed) {
    in6_addr bytes{};
    if (::inet_pton(AF_INET6, host.c_str(), &bytes) != 1) {
      return tl::unexpected(quote_value(host) + " is not an IPv6 address" + expected);
    }
    address.address = canonical_ip(AF_INET6, &bytes);
  } else {
    in_addr bytes{};
    if (::inet_pton(AF_INET, host.c_str(), &bytes) != 1) {
      return tl::unexpected(quote_value(host) + " is not an IP address" + expected +
                            " (a listener binds one address, so host names are not accepted)");
    }
    address.address = canonical_ip(AF_INET, &bytes);
  }
  return address;
}

tl::expected<HostPort, std::string> parse_host_port(std::string_view text) {
  const std::string expected =
      R"(; expected a host name or IP address and a port, such as "mail.example.org:24", "127.0.0.1:24" or "[::1]:24")";
  auto split = split_host_port(text);
  if (!split) return tl::unexpected(split.error() + expected);
  const std::string host(split->host);
  if (split->bracketed) {
    in6_addr bytes{};
    if (::inet_pton(AF_INET6, host.c_str(), &bytes) != 1) {
      return tl::unexpected(quote_value(host) + " is not an IPv6 address" + expected);
    }
  } else {
    in_addr bytes{};
    if (::inet_pton(AF_INET, host.c_str(), &bytes) != 1 && !is_dns_name(host)) {
      return tl::unexpected(quote_value(host) + " is neither a host name nor an IP address" + expected);
    }
  }
  return HostPort{.host = host, .port = *parse_port(split->port)};
}

std::string_view to_string(ProxyProtocol proxy_protocol) {
  switch (proxy_protocol) {
    case ProxyProtocol::v1: return "v1";
    case ProxyProtocol::v2: return "v2";
    case ProxyProtocol::none: break;
  }
  return "none";
}

const Peer* Config::find_peer(std::string_view name) const {
  const auto it = std::ranges::find(peers, name, &Peer::name);
  return it == peers.end() ? nullptr : &*it;
}

namespace {

std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) {
    if (!text.empty()) text += '\n';
    text += line;
  }
  return text;
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> errors)
    : CommandError(ExitCode::usage, join_lines(errors)), errors_(std::move(errors)) {}

Config parse_config(std::string_view text, const std::filesystem::path& path) {
  return Loader(path, std::nullopt).load(text);
}

Config load_config(const std::filesystem::path& path) {
  const std::string name = path.string();
  const auto fail = [&name](const std::string& message) -> ConfigError {
    return ConfigError({name + ": " + message});
  };
  // toml::parse_file would do, but says only "could not be opened"; a mail admin running
  // `mailtun check` as the wrong user needs to read "Permission denied".
  const FileDescriptor fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    throw fail(std::string("cannot open: ") + std::strerror(errno) + "; expected a readable TOML file");
  }
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) throw fail(std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(status.st_mode)) throw fail("not a regular file; expected a TOML file");
  if (static_cast<std::uint64_t>(status.st_size) > max_config_size) {
    throw fail("is " + std::to_string(status.st_size) + " bytes; expected a configuration file of at most " +
               std::to_string(max_config_size) + " bytes");
  }
  std::string text(static_cast<std::size_t>(status.st_size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      sodium_memzero(text.data(), text.size());
      throw fail(std::string("cannot read: ") + std::strerror(errno));
    }
    if (n == 0) break;  // it shrank since fstat
    done += static_cast<std::size_t>(n);
  }
  text.resize(done);
  // The text may hold an inline private key; wipe it whichever way parsing ends.
  struct Wipe {
    std::string& target;
    ~Wipe() { sodium_memzero(target.data(), target.size()); }
  } wipe{text};
  return Loader(path, status.st_mode).load(text);
}

}  // namespace mailtun::cli
