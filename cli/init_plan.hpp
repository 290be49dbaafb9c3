#pragma once
// What `mailtun init --role vps|office` writes and prints (DESIGN §8), as text, without touching
// the file system: the configuration for one side of the two situations mailtun exists for
// (DESIGN §1, §2, §7) — Postfix on the VPS delivering over LMTP to Dovecot in the office and
// authenticating against Dovecot's auth service, and the office's MTA relaying through the VPS —
// and the Postfix and Dovecot lines that match it.
//
// This file is the one place where those lines live: docs quote what init prints, and the
// end-to-end test configures its Postfix and Dovecot from the same output, so the three cannot
// drift apart. Every port below appears in both the configuration and the snippets.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace mailtun::cli {

enum class Role { vps, office };

/// "vps" or "office".
[[nodiscard]] std::string_view to_string(Role role);

/// The ports that mailtun, Postfix and Dovecot agree on (DESIGN §2).
inline constexpr std::uint16_t lmtp_port = 24;             // Dovecot LMTP; the VPS's forward
inline constexpr std::uint16_t dovecot_auth_port = 3659;   // Dovecot auth; the VPS's forward
inline constexpr std::uint16_t relay_forward_port = 2525;  // the office MTA's relayhost
inline constexpr std::uint16_t relay_target_port = 10025;  // the VPS's relay-only smtpd
inline constexpr std::string_view default_listen = "0.0.0.0:7424";
inline constexpr std::string_view default_dir = "/etc/mailtun";

/// The command line of `mailtun init`, as given: plan_init() checks it.
struct InitOptions {
  Role role = Role::vps;
  std::filesystem::path dir{default_dir};
  std::string name;       // empty: the role ("vps", "office")
  std::string peer_name;  // empty: the other role
  std::optional<std::string> peer_public_key;  // base64; absent: a placeholder to fill in
  std::optional<std::string> endpoint;         // office only, required there: the VPS's HOST:PORT
  std::optional<std::string> listen;           // vps only; absent: default_listen
};

/// A block of lines for another program's configuration file, printed under header().
struct Snippet {
  std::string title;  // e.g. "postfix main.cf (vps)"
  std::string body;   // lines ending in '\n'
  /// "# --- TITLE ---": one line a script can find.
  [[nodiscard]] std::string header() const { return "# --- " + title + " ---"; }
};

/// Everything init writes and prints except the private key.
struct InitPlan {
  Role role = Role::vps;
  std::string name;
  std::string peer_name;
  std::filesystem::path key_path;     // DIR/NAME.key: systemd's LoadCredential= names it so
  std::filesystem::path config_path;  // DIR/NAME.toml
  std::string config_text;
  /// The 1-based line of config_text holding the peer key placeholder, when no key was given.
  std::optional<std::size_t> placeholder_line;
  std::vector<Snippet> snippets;
  std::string listen;    // vps: where the tunnel listens
  std::string endpoint;  // office: the VPS it dials
};

/// The text in a `public_key = "…"` line that stands for the other side's key until it is pasted
/// in. Not base64, so the configuration fails to load and `mailtun check` quotes it.
[[nodiscard]] std::string peer_key_placeholder(std::string_view peer_name);

/// Checks the options and builds the plan. On bad options returns a message that names the flag
/// and says what is expected (a usage error: exit 2).
[[nodiscard]] tl::expected<InitPlan, std::string> plan_init(const InitOptions& options);

/// What init prints after writing the files: the files, the public key to hand to the other side
/// (one line "public key of NAME: KEY"), the numbered next steps, then every snippet under its
/// header. `config_access` describes the configuration file's mode, e.g. "mode 0640, group mailtun".
[[nodiscard]] std::string init_report(const InitPlan& plan, std::string_view public_key,
                                      std::string_view config_access);

}  // namespace mailtun::cli
