#include "cli/error_text.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

namespace mailtun::cli {

namespace {

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
         c == '=';
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

/// Levenshtein distance, one row at a time.
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

}  // namespace

bool looks_like_key(std::string_view text) {
  constexpr std::size_t shortest_hidden = 40;
  std::size_t run = 0;
  for (const char c : text) {
    run = is_base64_char(c) ? run + 1 : 0;
    if (run >= shortest_hidden) return true;
  }
  return false;
}

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

std::string without_base64_runs(std::string_view text) {
  // Toml++'s descriptions quote single characters, but a run of base64 in one could only be part
  // of a key, so it is cut out rather than trusted not to be.
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

std::optional<std::string_view> closest(std::string_view word, std::span<const std::string_view> candidates) {
  const std::string norm = normalised(word);
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 2> wireguard_names{{
      {"persistentkeepalive", "keepalive"},
      {"listenport", "listen"},
  }};
  for (const auto& [wg, ours] : wireguard_names) {
    if (norm == wg && std::ranges::find(candidates, ours) != candidates.end()) return ours;
  }
  const std::size_t farthest = norm.size() <= 4 ? 1 : 2;
  std::optional<std::string_view> best;
  std::size_t best_distance = farthest + 1;
  for (const std::string_view candidate : candidates) {
    const std::size_t distance = edit_distance(norm, normalised(candidate));
    if (distance < best_distance) {
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

}  // namespace mailtun::cli
