#pragma once
// What `mailtun status` shows (docs/operations.md): a snapshot of a running endpoint, taken on the
// event loop by the endpoint and served over the control socket as JSON. Plain data: the endpoint
// fills it, the renderers below turn it into text for people and Prometheus, and the client parses
// the JSON back. The JSON field names are an interface for scripts: add fields, never rename.

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mailtun::cli {

struct PeerStatus {
  std::string name;
  std::string public_key;  // base64
  /// "up" (a ready connection), "connecting" (dialing or mid-handshake), "down" (dialing side,
  /// backing off after a failure) or "waiting" (listening side, no connection from the peer).
  std::string state;
  /// The remote address of the current connection; else the configured endpoint ("host:port"); else "".
  std::string endpoint;
  std::optional<double> seconds_since_handshake;  // none before the first handshake
  /// How long the current connection's session has been up (docs/design.md "Session refresh":
  /// the dialing side replaces it at max_session_age); none when the peer is not up.
  std::optional<double> session_age_seconds;
  std::optional<double> rtt_ms;                   // latest PING/PONG round trip of the current connection
  std::uint64_t bytes_in = 0;                     // tunnel bytes, all connections since start
  std::uint64_t bytes_out = 0;
  std::uint64_t streams_open = 0;
  std::uint64_t streams_total = 0;  // opened either way, all connections since start
  std::uint64_t reconnects = 0;     // connections lost since start
  std::string last_error;           // why the last connection ended or the last attempt failed; "" if none
};

struct ServiceStatus {
  std::string kind;     // "forward" or "expose"
  std::string service;  // the service name
  std::string address;  // a forward's listen address, an expose's target
  std::vector<std::string> peers;
  std::uint64_t streams_open = 0;
  std::uint64_t streams_total = 0;
  std::uint64_t unavailable = 0;  // forward: clients answered "unavailable" (421 for LMTP/SMTP)
  std::uint64_t errors = 0;       // streams refused or reset before completing
};

struct StatusReport {
  std::string interface;   // [interface] name
  std::string public_key;  // base64
  std::string listen;      // "" when the endpoint does not listen
  double uptime_seconds = 0;
  std::string version;
  std::vector<PeerStatus> peers;
  std::vector<ServiceStatus> services;
  /// Handshakes refused, by reason ("rate_limited", "bad_mac1", "unknown_peer", "replayed_timestamp",
  /// "timestamp_in_future", "malformed", "decrypt_failed", "timeout", "incomplete" (closed by the
  /// other side before message 1 was complete), "too_many_unfinished").
  std::map<std::string, std::uint64_t> rejected_handshakes;
};

/// The report as one line of JSON (no newline), field names as above; an absent optional is null.
/// Bytes that are not UTF-8 (a peer's RST reason may carry any) become U+FFFD.
[[nodiscard]] std::string to_json(const StatusReport& report);

/// What status_from_json throws: what() names the field and what was expected there.
class StatusFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses to_json's output. Unknown fields are ignored and absent ones keep their defaults (an
/// older or newer endpoint still answers), but a field of the wrong type, text that is not JSON,
/// or an object without "interface" throws StatusFormatError.
[[nodiscard]] StatusReport status_from_json(std::string_view json);

/// The report for people, like `wg show` (status_text.cpp): the interface, one block per peer with
/// its state on the first line, then a table of forwards and exposes; every line at most 80
/// columns. Text is escaped so that no byte of it can act on a terminal.
[[nodiscard]] std::string render_text(const StatusReport& report);

/// The report in Prometheus text exposition format 0.0.4 (status_prometheus.cpp).
[[nodiscard]] std::string render_prometheus(const StatusReport& report);

}  // namespace mailtun::cli
