#include "cli/table_reader.hpp"

#include <algorithm>
#include <array>

#include "cli/config.hpp"
#include "cli/error_text.hpp"

namespace mailtun::cli {

namespace {

constexpr std::array<std::string_view, 7> interface_keys{"name",           "private_key_file", "private_key",
                                                          "listen",         "control_socket",   "metrics_listen",
                                                          "peers_dir"};
constexpr std::array<std::string_view, 8> peer_keys{"name",          "public_key", "preshared_key_file",
                                                     "preshared_key", "endpoint",   "keepalive",
                                                     "max_streams",   "max_session_age"};
constexpr std::array<std::string_view, 6> forward_keys{"service", "listen", "peer", "peers", "protocol", "allow_public"};
constexpr std::array<std::string_view, 7> expose_keys{"service",        "target",        "peers",         "protocol",
                                                      "proxy_protocol", "proxy_sources", "allow_any_port"};

constexpr std::array<TableKind, 4> table_kinds{{
    {"interface", "[interface]", interface_keys},
    {"peer", "[[peer]]", peer_keys},
    {"forward", "[[forward]]", forward_keys},
    {"expose", "[[expose]]", expose_keys},
}};
constexpr std::array<std::string_view, 4> top_level{"interface", "peer", "forward", "expose"};

}  // namespace

std::span<const std::string_view> top_level_names() { return top_level; }

const TableKind& table_kind(std::string_view name) {
  return *std::ranges::find(table_kinds, name, &TableKind::name);
}

std::string tables_with_key(std::string_view key) {
  std::vector<std::string_view> headings;
  for (const TableKind& kind : table_kinds) {
    if (std::ranges::find(kind.keys, key) != kind.keys.end()) headings.push_back(kind.heading);
  }
  return joined(headings, " or ");
}

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

// ---------------------------------------------------------------------------------------------

std::size_t Problems::begin_file(std::string file) {
  files_.push_back(std::move(file));
  return current();
}

void Problems::add(std::size_t file, std::uint32_t line, std::string_view key, std::string_view message) {
  list_.push_back({file, line,
                   files_[file] + ":" + std::to_string(line) + ": " + std::string(key) + ": " + std::string(message)});
}

void Problems::add_whole_file(std::string_view message) {
  list_.push_back({current(), 0, file() + ": " + std::string(message)});
}

void Problems::add_syntax(const toml::parse_error& e) {
  const auto& where = e.source().begin;
  list_.push_back({current(), where.line, file() + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                                   ": invalid TOML: " + without_base64_runs(e.description()) +
                                   "; expected TOML (https://toml.io): strings in double quotes, tables "
                                   "as [interface] and [[peer]]"});
}

void Problems::raise() {
  std::ranges::stable_sort(list_, [](const Problem& a, const Problem& b) {
    return a.file != b.file ? a.file < b.file : a.line < b.line;
  });
  std::vector<std::string> lines;
  lines.reserve(list_.size());
  for (Problem& p : list_) lines.push_back(std::move(p.text));
  throw ConfigError(std::move(lines));
}

// ---------------------------------------------------------------------------------------------

TableReader::TableReader(Problems& problems, toml::table& table, std::string prefix, const TableKind& kind)
    : problems_(&problems), file_(problems.current()), table_(&table), prefix_(std::move(prefix)) {
  for (auto&& [key, value] : table) {
    if (std::ranges::find(kind.keys, key.str()) != kind.keys.end()) continue;
    std::string message = "unknown key";
    if (const auto guess = closest(key.str(), kind.keys)) {
      message += "; did you mean `" + std::string(*guess) + "`?";
    } else if (const std::string elsewhere = tables_with_key(key.str()); !elsewhere.empty()) {
      message += " in " + std::string(kind.heading) + "; it belongs in " + elsewhere;
    } else {
      message += "; expected one of " + joined(kind.keys, " or ");
    }
    // The value is not shown: an unknown key may well be a misspelt private_key.
    add(line_of(value), looks_like_key(key.str()) ? prefix_ + ".(a key name like a key)" : name(key.str()),
                 message);
  }
}

std::string TableReader::place(std::string_view key, const TableReader& reader) const {
  std::string text = "line " + std::to_string(line(key));
  if (file_ != reader.file_) text += " of " + problems_->file(file_);
  return text;
}

std::uint32_t TableReader::line(std::string_view key) const {
  const toml::node* node = table_->get(key);
  return node != nullptr ? line_of(*node) : table_line();
}

std::uint32_t TableReader::line(std::string_view key, std::size_t index) const {
  const toml::array* array = table_->get_as<toml::array>(key);
  const toml::node* element = array != nullptr ? array->get(index) : nullptr;
  return element != nullptr ? line_of(*element) : line(key);
}

void TableReader::missing(std::string_view key, std::string_view expected) const {
  add(table_line(), name(key), "missing; expected " + std::string(expected));
}

std::optional<std::string> TableReader::string(std::string_view key, std::string_view expected) const {
  const toml::node* node = table_->get(key);
  if (node == nullptr) return std::nullopt;
  if (const auto* value = node->as_string()) return value->get();
  wrong_type(key, *node, std::string(expected) + ", in double quotes");
  return std::nullopt;
}

std::optional<std::string> TableReader::required_string(std::string_view key, std::string_view expected) const {
  if (!has(key)) {
    missing(key, expected);
    return std::nullopt;
  }
  return string(key, expected);
}

std::string* TableReader::secret_string(std::string_view key) const {
  toml::node* node = table_->get(key);
  if (node == nullptr) return nullptr;
  if (auto* value = node->as_string()) return &value->get();
  wrong_type(key, *node, "44 base64 characters in double quotes");
  return nullptr;
}

std::optional<std::int64_t> TableReader::integer(std::string_view key, std::int64_t low, std::int64_t high,
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

std::optional<bool> TableReader::boolean(std::string_view key) const {
  const toml::node* node = table_->get(key);
  if (node == nullptr) return std::nullopt;
  if (const auto* value = node->as_boolean()) return value->get();
  wrong_type(key, *node, "true or false (without quotes)");
  return std::nullopt;
}

std::optional<std::vector<std::string>> TableReader::strings(std::string_view key, std::string_view expected) const {
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
      add(line_of(element), name(key) + "[" + std::to_string(i) + "]",
                     "got " + std::string(type_name(element)) + "; expected a string");
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

void TableReader::wrong_type(std::string_view key, const toml::node& node, const std::string& expected) const {
  add(line_of(node), name(key), "got " + std::string(type_name(node)) + "; expected " + expected);
}

}  // namespace mailtun::cli
