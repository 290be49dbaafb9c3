#pragma once
// A running endpoint (`mailtun up`): the configuration turned into listeners, dialers, forwards and
// exposes around tunnel connections, one current connection per peer. Single-threaded: everything
// runs on the io_context it was given. reload() applies a new configuration in place (SIGHUP).

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cli/config.hpp"
#include "cli/status_report.hpp"
#include "forwarder/counters.hpp"
#include "forwarder/expose.hpp"
#include "forwarder/forward.hpp"
#include "tunnel/asio/acceptor.hpp"
#include "tunnel/asio/connection.hpp"
#include "tunnel/asio/dialer.hpp"

namespace mailtun::cli {

/// Per-peer counters, kept across the peer's connections.
struct PeerCounters {
  std::uint64_t handshakes = 0;
  std::uint64_t connections_lost = 0;
  // Of connections already closed; status adds the live ones'.
  std::uint64_t wire_bytes_in = 0;
  std::uint64_t wire_bytes_out = 0;
  std::uint64_t streams = 0;
};

/// Bounds on accepted connections that have not finished the handshake (DESIGN §4.1 rule 2).
struct HandshakeCaps {
  std::size_t in_all = 256;    // or one per peer if more; the oldest is closed to make room for one more
  std::size_t per_source = 4;  // one more from that source is closed at once
};

class Endpoint : public tunnel::asio::ConnectionHandler {
 public:
  Endpoint(boost::asio::io_context& io, Config config, HandshakeCaps caps = {});
  ~Endpoint() override;

  /// Binds every listener and starts dialing. Throws std::runtime_error naming what failed.
  void start();
  /// Stops accepting, sends GOAWAY on every connection and calls `done` once all are closed or
  /// `drain_timeout` has passed.
  void shutdown(std::chrono::milliseconds drain_timeout, std::function<void()> done);

  /// SIGHUP: applies `next`. Forwards, exposes and peers that did not change keep running with
  /// their streams; removed ones stop; a peer whose public key or preshared key changed is a new
  /// peer (it handshakes afresh; its old connections drain); a peer whose endpoint changed is dialed
  /// there at once, and the new connection takes over from the old (make-before-break); other peer
  /// settings apply to the next connection. Throws std::runtime_error, having changed nothing, when `next` needs a restart
  /// (another private key or tunnel listen address) or a new forward cannot listen.
  void reload(Config next);

  /// The interface's settings, forwards and exposes in force (peers: see status_report()).
  [[nodiscard]] const Config& config() const { return config_; }
  [[nodiscard]] std::size_t peer_count() const;
  /// The address the tunnel listener is bound to (its real port when 0 was configured), if any.
  [[nodiscard]] std::optional<boost::asio::ip::tcp::endpoint> tunnel_listen_endpoint() const;
  /// Tunnel connections alive now, in any state (handshaking, current, replaced and draining).
  [[nodiscard]] std::size_t connection_count() const { return connections_.size(); }
  /// The connection that carries the streams of the peer called `name`, or null.
  [[nodiscard]] std::shared_ptr<const tunnel::asio::Connection> current_connection(std::string_view name) const;

  /// What `mailtun status` shows, as of now.
  [[nodiscard]] StatusReport status_report() const;
  /// One line with the peers' states, for systemd's STATUS= (cli/peer_summary.hpp).
  [[nodiscard]] std::string peer_summary() const;
  /// Every dialer connects from `address` (before start()): the office simulator
  /// (bench/offices.cpp) runs many offices in one process, each from its own loopback address.
  void set_dial_source(boost::asio::ip::address address) { dial_source_ = address; }
  /// Called whenever a peer's state may have changed (up, down, connecting).
  void on_peer_state_change(std::function<void()> callback) { on_peer_state_change_ = std::move(callback); }

  // ConnectionHandler
  void on_established(tunnel::asio::Connection& connection) override;
  void on_confirmed(tunnel::asio::Connection& connection) override;
  void on_stream_opened(tunnel::asio::Connection& connection, tunnel::StreamId id,
                        const tunnel::OpenPayload& open) override;
  void on_peer_going_away(tunnel::asio::Connection& connection) override;
  void on_closed(tunnel::asio::Connection& connection, const tunnel::CloseReason& reason) override;

 private:
  /// One peer as configured, and everything known about it. Its index in peers_ is its index in
  /// the responder and in its sessions, so it is never reused: a peer removed by a reload stays as
  /// an inactive slot.
  struct PeerState {
    Peer config;  // owns the keys the responder borrows
    bool active = true;
    std::shared_ptr<tunnel::asio::Connection> current;
    std::shared_ptr<tunnel::asio::Dialer> dialer;
    tunnel::SessionLimits limits;
    PeerCounters counters;
    std::string last_error;
    tunnel::TimePoint down_since;
    std::optional<tunnel::TimePoint> last_handshake;
    std::size_t down_reports = 0;  // warnings since it went down (down_report.hpp)
    std::unique_ptr<boost::asio::steady_timer> down_timer;
    /// The dialing side: when the current connection is max_session_age old (session refresh).
    std::unique_ptr<boost::asio::steady_timer> refresh_timer;
    std::optional<tunnel::TimePoint> current_since;
    /// Replaced connections still carrying streams, oldest first (at most max_draining_per_peer).
    std::deque<std::weak_ptr<tunnel::asio::Connection>> draining;
    /// The sources of its latest confirmed handshakes here, newest last (HandshakeLimiter: proven).
    std::deque<tunnel::SourceKey> proven_sources;
  };

  /// A running forward and its counters.
  struct RunningForward {
    Forward config;
    std::shared_ptr<forwarder::Forward> forward;
    std::shared_ptr<forwarder::ServiceCounters> counters;
  };

  std::size_t add_peer(Peer peer);
  void start_dialer(std::size_t peer, bool dial_now);
  /// The peer's slot is done: removed (its connections close now) or replaced by one with new keys
  /// (`drain`: its streams may finish).
  void retire_peer(std::size_t peer, bool drain);
  [[nodiscard]] std::optional<std::size_t> active_peer(std::string_view name) const;
  /// Creates and binds a forward; throws std::runtime_error naming the address on failure.
  RunningForward start_forward(const Forward& forward);
  /// Expose specs for `exposes`, with targets resolved (throws std::runtime_error on a bad one).
  std::vector<forwarder::ExposeSpec> expose_specs(const std::vector<Expose>& exposes) const;
  /// Fills each spec's peer slots from the names in `exposes` (the same order), which must be active.
  void assign_expose_peers(std::vector<forwarder::ExposeSpec>& specs, const std::vector<Expose>& exposes) const;

  void on_dialed(std::size_t peer, boost::asio::ip::tcp::socket socket);
  void on_accepted(boost::asio::ip::tcp::socket socket);
  void become_current(std::size_t peer, tunnel::asio::Connection& connection);
  /// Dials a fresh connection once the current one is max_session_age old (make-before-break).
  void schedule_refresh(std::size_t peer);
  void check_shutdown_done();
  /// Counts and, for those a configuration mistake explains, logs a refused handshake.
  void on_handshake_refused(const tunnel::asio::Connection& connection, const tunnel::CloseReason& reason);
  void went_down(std::size_t peer, const std::string& why);
  void schedule_down_report(std::size_t peer);
  void notify_peer_state_change() const;
  [[nodiscard]] std::string peer_state(std::size_t peer) const;
  [[nodiscard]] std::string own_public_key() const;
  /// Whether some peer completed one of its latest handshakes from `source`.
  [[nodiscard]] bool is_proven_source(const tunnel::SourceKey& source) const;
  void remember_proven_source(PeerState& state, const tunnel::SourceKey& source);

  boost::asio::io_context& io_;
  Config config_;  // its peers are moved into peers_
  tunnel::Responder responder_;
  std::vector<std::unique_ptr<PeerState>> peers_;
  std::shared_ptr<tunnel::asio::Acceptor> acceptor_;
  std::vector<RunningForward> forwards_;
  std::unique_ptr<forwarder::Exposes> exposes_;
  std::set<std::shared_ptr<tunnel::asio::Connection>> connections_;  // every live one

  /// Accepted connections still in the handshake, oldest first.
  struct Handshaking {
    std::weak_ptr<tunnel::asio::Connection> connection;
    tunnel::SourceKey source;
  };
  HandshakeCaps handshake_caps_;
  std::deque<Handshaking> handshaking_;
  /// Per peer: enough for its NAT's few public addresses, too few for a compromised peer to make
  /// room for a flood.
  static constexpr std::size_t proven_sources_per_peer = 4;
  /// A refresh leaves one draining connection behind for a while; a peer that handshakes over and
  /// over (a compromised key) must not pile up connections, each with its streams and windows.
  static constexpr std::size_t max_draining_per_peer = 2;
  std::map<std::string, std::uint64_t> rejected_handshakes_;  // by reason
  tunnel::HandshakeLimiter handshake_limiter_;                // docs/design.md, "Handshake floods"
  tunnel::HandshakeLimiter refusal_log_limiter_;              // one warning per source per minute
  tunnel::TimePoint started_;
  std::function<void()> on_peer_state_change_;
  std::minstd_rand refresh_jitter_{std::random_device{}()};
  bool shutting_down_ = false;
  std::function<void()> shutdown_done_;
  std::unique_ptr<boost::asio::steady_timer> shutdown_timer_;
  std::optional<boost::asio::ip::address> dial_source_;  // see set_dial_source
};

}  // namespace mailtun::cli
