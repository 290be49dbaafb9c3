#pragma once
// The configuration file of DESIGN §7 (contract): one TOML file per endpoint, loaded and checked as
// a whole. Every problem found is reported at once, one line each, in the form
//   FILE:LINE: KEY: what is wrong; what is expected
// so that a mail admin fixes a file in one round rather than one error per `mailtun check`.
// docs/configuration.md is the user's reference for every key.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/address.hpp"
#include "cli/command_error.hpp"
#include "forwarder/proxy_header.hpp"
#include "forwarder/proxy_sources.hpp"
#include "forwarder/service.hpp"
#include "keys/key.hpp"

namespace mailtun::cli {

inline constexpr std::chrono::seconds default_keepalive{15};
inline constexpr std::size_t default_max_streams = 1024;
/// Like WireGuard's re-handshake: a fresh Diffie-Hellman at least this often (docs/design.md
/// "Session refresh").
inline constexpr std::chrono::seconds default_max_session_age{2 * 3600};

/// Where the control sockets of running endpoints live (the unit's RuntimeDirectory=).
inline const std::filesystem::path default_runtime_directory = "/run/mailtun";

/// The control socket of the interface called `name` when the file names none: DIRECTORY/NAME.sock.
[[nodiscard]] inline std::filesystem::path default_control_socket(std::string_view name,
                                                                  const std::filesystem::path& directory = default_runtime_directory) {
  return directory / (std::string(name) + ".sock");
}

/// [interface]: this endpoint.
struct Interface {
  /// For logs and status; defaults to the configuration file's stem ("vps" for vps.toml), which is
  /// what `mailtun init` names the file after anyway.
  std::string name;
  keys::PrivateKey private_key;
  /// Accept tunnel connections here; absent on an endpoint that only dials.
  std::optional<SocketAddress> listen;
  /// For `mailtun status`: /run/mailtun/NAME.sock unless configured; a relative path is made
  /// relative to the configuration file's directory.
  std::filesystem::path control_socket;
  /// Where the counters are served in Prometheus text format; none when not configured. May be
  /// public (`mailtun check` warns): the counters name peers and show their traffic.
  std::optional<SocketAddress> metrics_listen;
};

/// [[peer]]: another endpoint, known by its public key.
struct Peer {
  std::string name;
  keys::PublicKey public_key;
  /// All zero when none is configured (DESIGN §4.1).
  keys::PresharedKey psk;
  /// Set on the side that dials; the peer is then connected to rather than waited for.
  std::optional<HostPort> endpoint;
  std::chrono::seconds keepalive = default_keepalive;
  std::size_t max_streams = default_max_streams;
  /// The dialing side replaces the connection by a fresh handshake this often (make-before-break);
  /// a replaced connection drains for at most this long.
  std::chrono::seconds max_session_age = default_max_session_age;
};

/// [[forward]]: a local listener whose connections become streams to `service` at the first of
/// `peers` that has a live connection (failover, docs/design.md "Failover").
struct Forward {
  std::string service;
  SocketAddress listen;
  std::vector<std::string> peers;  // names from Config::peers, in order of preference, at least one
  forwarder::Protocol protocol = forwarder::Protocol::tcp;
  /// Set to listen off loopback although the protocol has no authentication of its own (DESIGN §6).
  bool allow_public = false;
};

/// [[expose]]: a service that the named peers may open, served by a local target.
struct Expose {
  std::string service;
  HostPort target;
  std::vector<std::string> peers;  // names from Config::peers, at least one
  forwarder::Protocol protocol = forwarder::Protocol::tcp;
  std::optional<forwarder::ProxyVersion> proxy_protocol;  // none when absent or "none"
  /// The client addresses the peers may claim in the PROXY header (forwarder::ProxySources).
  std::vector<forwarder::AddressPrefix> proxy_sources = forwarder::default_proxy_sources();
  bool allow_any_port = false;
};

/// A whole, valid configuration: every cross-reference resolves (forward.peers and expose.peers
/// name peers in `peers`), names and listen addresses are unique, at least one side of every
/// peer can start the connection, and both guards of DESIGN §6 pass. Move-only, as it holds
/// secret keys.
struct Config {
  std::filesystem::path path;  // the file it was loaded from
  Interface interface;
  std::vector<Peer> peers;
  std::vector<Forward> forwards;
  std::vector<Expose> exposes;

  /// The peer called `name`, or nullptr.
  [[nodiscard]] const Peer* find_peer(std::string_view name) const;
};

/// An invalid or unreadable configuration. what() is every error, one per line, in the order of
/// the file: "FILE:LINE: KEY: what is wrong; what is expected" (a syntax error reads
/// "FILE:LINE:COLUMN: …", a file that cannot be read "FILE: …"). No message contains the value of
/// a private key or preshared key, nor anything that looks like one.
/// A CommandError with exit code 2 (DESIGN §8: a configuration error), so that any subcommand that
/// loads a configuration ends the way main() ends every failed command: what() on stderr, exit 2.
class ConfigError : public CommandError {
 public:
  explicit ConfigError(std::vector<std::string> errors);
  /// The lines of what(), without newlines.
  [[nodiscard]] const std::vector<std::string>& errors() const noexcept { return errors_; }

 private:
  std::vector<std::string> errors_;
};

/// Reads and checks the configuration at `path`, including the key files it names (relative key
/// file paths are relative to the configuration file's directory) and the files of its
/// interface.peers_dir, whose tables are merged in after the file's own, in file name order; errors
/// in those name their own file. Throws ConfigError listing every
/// problem. A file that holds a private key or preshared key inline must be as private as a key
/// file (DESIGN §3: no access for group or others).
[[nodiscard]] Config load_config(const std::filesystem::path& path);

/// The other endpoint's configuration as `mailtun check --peer-config` reads it on this machine,
/// where that endpoint's key files usually are not (or are other files of the same name).
struct PeerSideConfig {
  /// When `private_key_unread` is set, config.interface.private_key is a random stand-in that
  /// must not be used; so is the all-zero psk of a peer named in `psk_unread`.
  Config config;
  /// Why the private key could not be read, if it could not.
  std::optional<std::string> private_key_unread;
  /// The peers whose preshared key file could not be read.
  std::vector<std::string> psk_unread;
};

/// As load_config, except that a key file that cannot be read (missing, unreadable, too open) is
/// not an error but recorded in the result. Every other problem throws ConfigError.
[[nodiscard]] PeerSideConfig load_peer_side_config(const std::filesystem::path& path);

/// As load_config, for text already read, as if it came from `path` (which names the file in
/// messages and anchors relative paths; it is not read, and its mode is not checked). The files of
/// a peers_dir it names are read as load_config reads them.
[[nodiscard]] Config parse_config(std::string_view text, const std::filesystem::path& path);

}  // namespace mailtun::cli
