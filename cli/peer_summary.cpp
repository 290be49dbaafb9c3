#include "cli/peer_summary.hpp"

#include <array>

namespace mailtun::cli {

std::string summarize_peers(const std::vector<std::pair<std::string, std::string>>& peers) {
  if (peers.empty()) return "no peers";
  std::string out;
  if (peers.size() <= peers_named_in_summary) {
    for (const auto& [name, state] : peers) out += (out.empty() ? "peer " : "; peer ") + name + " " + state;
    return out;
  }
  constexpr std::array<std::string_view, 4> states{"up", "connecting", "down", "waiting"};
  out = std::to_string(peers.size()) + " peers:";
  std::string counts;
  for (const std::string_view state : states) {
    std::size_t n = 0;
    for (const auto& peer : peers) n += peer.second == state ? 1 : 0;
    if (n > 0) counts += (counts.empty() ? " " : ", ") + std::to_string(n) + " " + std::string(state);
  }
  out += counts;
  std::string not_up;
  std::size_t named = 0;
  std::size_t unnamed = 0;
  for (const auto& [name, state] : peers) {
    if (state == "up") continue;
    if (named < peers_named_in_summary) {
      not_up += (not_up.empty() ? "" : ", ") + name;
      ++named;
    } else {
      ++unnamed;
    }
  }
  if (!not_up.empty()) out += "; not up: " + not_up;
  if (unnamed > 0) out += " and " + std::to_string(unnamed) + " more";
  return out;
}

}  // namespace mailtun::cli
