#pragma once
// Reading the tables of the configuration file (DESIGN §7): which tables exist and which keys each
// accepts, where the problems found go, and a reader for one table that reports every unknown key
// and wrong type as "FILE:LINE: KEY: what is wrong; what is expected". Only the loader in
// config.cpp uses this.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <utility>
#include <vector>

namespace mailtun::cli {

/// One kind of table and the keys it accepts.
struct TableKind {
  std::string_view name;     // the key at the top of the file
  std::string_view heading;  // as written in the file
  std::span<const std::string_view> keys;
};

/// The keys allowed at the top of the file: "interface", "peer", "forward", "expose".
[[nodiscard]] std::span<const std::string_view> top_level_names();

/// The kind of table at the top-level key `name`, which must be one of top_level_names().
[[nodiscard]] const TableKind& table_kind(std::string_view name);

/// For an unknown key: the headings of the tables where it is a known key, e.g. "[interface] or
/// [[forward]]" for `listen`; empty if none.
[[nodiscard]] std::string tables_with_key(std::string_view key);

/// The TOML type of a node, worded to follow "got".
[[nodiscard]] std::string_view type_name(const toml::node& node);

[[nodiscard]] inline std::uint32_t line_of(const toml::node& node) { return node.source().begin.line; }

/// Where errors go while a configuration is checked: the main file, then each file of its
/// peers_dir in turn. Collects them all; nothing throws until raise().
class Problems {
 public:
  /// `file` names the main file at the start of every message.
  explicit Problems(std::string file) : files_{std::move(file)} {}

  /// From now on, add() and new TableReaders speak of `file`; returns its index for add().
  std::size_t begin_file(std::string file);
  /// The index of the file being read (0 for the main file).
  [[nodiscard]] std::size_t current() const { return files_.size() - 1; }

  /// Adds "FILE:LINE: KEY: MESSAGE" for the file being read.
  void add(std::uint32_t line, std::string_view key, std::string_view message) { add(current(), line, key, message); }
  /// Adds "FILE:LINE: KEY: MESSAGE" for file number `file`.
  void add(std::size_t file, std::uint32_t line, std::string_view key, std::string_view message);
  /// Adds "FILE: MESSAGE" for the file being read, about the file as a whole (it cannot be read).
  void add_whole_file(std::string_view message);
  /// A TOML syntax error, which toml++ places at a line and column. Runs of base64 in its
  /// description are cut out, as they could be part of a key.
  void add_syntax(const toml::parse_error& e);
  [[nodiscard]] bool empty() const { return list_.empty(); }
  /// The file being read.
  [[nodiscard]] const std::string& file() const { return files_.back(); }
  [[nodiscard]] const std::string& file(std::size_t index) const { return files_[index]; }

  /// Throws ConfigError with every problem, in the order of the files and of each file.
  [[noreturn]] void raise();

 private:
  struct Problem {
    std::size_t file;
    std::uint32_t line;
    std::string text;
  };

  std::vector<std::string> files_;
  std::vector<Problem> list_;
};

/// One table of the file being read: reports its unknown keys on construction, and offers typed
/// accessors that report a wrong type and return nullopt, so a caller only handles good values.
/// Refers to `problems` and `table`, which must outlive it.
class TableReader {
 public:
  /// `prefix` names the table in messages ("interface", "peer[0]"); `kind` lists its keys.
  TableReader(Problems& problems, toml::table& table, std::string prefix, const TableKind& kind);

  [[nodiscard]] const std::string& prefix() const { return prefix_; }
  /// The index in Problems of the file this table is in.
  [[nodiscard]] std::size_t file() const { return file_; }
  /// Where `key` is, as a message about a table in `reader`'s file says it: "line N", or
  /// "line N of FILE" when this table is in another file.
  [[nodiscard]] std::string place(std::string_view key, const TableReader& reader) const;
  /// "PREFIX.KEY", as KEY is named in messages.
  [[nodiscard]] std::string name(std::string_view key) const { return prefix_ + "." + std::string(key); }
  [[nodiscard]] bool has(std::string_view key) const { return table_->contains(key); }
  [[nodiscard]] std::uint32_t table_line() const { return line_of(*table_); }
  /// The line of `key`'s value, or of the table's heading when the key is absent.
  [[nodiscard]] std::uint32_t line(std::string_view key) const;
  /// The line of element `index` of the array at `key`, or line(key).
  [[nodiscard]] std::uint32_t line(std::string_view key, std::size_t index) const;

  /// Reports `message` about `key`, at line(key).
  void error(std::string_view key, std::string_view message) const { add(line(key), name(key), message); }
  /// Reports `message` about element `index` of the array at `key`, as KEY[index], at its line.
  void error(std::string_view key, std::size_t index, std::string_view message) const {
    add(line(key, index), name(key) + "[" + std::to_string(index) + "]", message);
  }
  /// Reports `message` about `key` (as named in messages) at `line` of this table's file.
  void add(std::uint32_t line, std::string_view key, std::string_view message) const {
    problems_->add(file_, line, key, message);
  }
  /// Reports `key` missing, at the table's heading.
  void missing(std::string_view key, std::string_view expected) const;

  /// The string at `key`, or nullopt if absent or (reported) not a string. `expected` describes a
  /// good value for the message, e.g. R"(an address such as "127.0.0.1:24")".
  [[nodiscard]] std::optional<std::string> string(std::string_view key, std::string_view expected) const;
  /// As string(), and reports a missing key.
  [[nodiscard]] std::optional<std::string> required_string(std::string_view key, std::string_view expected) const;
  /// The string of a secret, by reference so the caller can wipe toml++'s copy once it is parsed;
  /// nullptr if absent or (reported, without the value) not a string.
  [[nodiscard]] std::string* secret_string(std::string_view key) const;
  /// The integer at `key` if it lies in [low, high]; `unit` completes the range in messages.
  [[nodiscard]] std::optional<std::int64_t> integer(std::string_view key, std::int64_t low, std::int64_t high,
                                                    std::string_view unit) const;
  [[nodiscard]] std::optional<bool> boolean(std::string_view key) const;
  /// An array of strings; each bad element is reported as KEY[i].
  [[nodiscard]] std::optional<std::vector<std::string>> strings(std::string_view key, std::string_view expected) const;

 private:
  void wrong_type(std::string_view key, const toml::node& node, const std::string& expected) const;

  Problems* problems_;
  std::size_t file_;
  toml::table* table_;  // not const: secret_string() lets the caller wipe values in place
  std::string prefix_;
};

}  // namespace mailtun::cli
