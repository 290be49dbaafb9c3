#pragma once
// The one line systemd shows for the service (STATUS=, `systemctl status`): every peer's state
// while there are few, counts and the first peers not up once a VPS serves many offices, so the
// line stays short enough to read and to send on every change.

#include <string>
#include <utility>
#include <vector>

namespace mailtun::cli {

/// Peers named one by one up to this many; counts beyond.
inline constexpr std::size_t peers_named_in_summary = 8;

/// `peers`: (name, state) in configuration order, state as in `mailtun status` ("up",
/// "connecting", "down", "waiting"). "peer office up; peer vps2 down" for a few peers;
/// "1000 peers: 997 up, 2 connecting, 1 down; not up: office-17, office-33, office-90" for many,
/// naming at most peers_named_in_summary that are not up. "no peers" for none.
[[nodiscard]] std::string summarize_peers(const std::vector<std::pair<std::string, std::string>>& peers);

}  // namespace mailtun::cli
