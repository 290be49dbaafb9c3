#include "cli/endpoint.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <stdexcept>

#include "cli/down_report.hpp"
#include "cli/peer_summary.hpp"
#include "keys/base64.hpp"
#include <sodium.h>
#include <algorithm>

namespace mailtun::cli {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using tunnel::asio::Connection;

namespace {

tcp::endpoint to_endpoint(const SocketAddress& address) {
  return {net::ip::make_address(address.address), address.port};
}

/// Expose targets are local services: resolved once at start, so a typo fails loudly then.
std::vector<tcp::endpoint> resolve_target(net::io_context& io, const HostPort& target) {
  tcp::resolver resolver(io);
  boost::system::error_code ec;
  const auto results = resolver.resolve(target.host, std::to_string(target.port), ec);
  if (ec) throw std::runtime_error("cannot resolve expose target " + target.to_string() + ": " + ec.message());
  std::vector<tcp::endpoint> out;
  for (const auto& r : results) out.push_back(r.endpoint());
  return out;
}

/// How long a replaced connection may carry its streams: as long as a session lives, and at least a
/// minute, so a short max_session_age does not cut ordinary transfers.
std::chrono::milliseconds drain_bound(const Peer& peer) {
  return std::max<std::chrono::milliseconds>(peer.max_session_age, std::chrono::minutes(1));
}

/// The reason names of StatusReport::rejected_handshakes.
std::string_view refusal_name(const tunnel::CloseReason& reason) {
  using Kind = tunnel::CloseReason::Kind;
  using tunnel::errc;
  if (reason.kind == Kind::handshake_timeout) return "timeout";
  if (reason.kind != Kind::handshake_failed) return "incomplete";
  if (reason.error == errc::bad_mac1) return "bad_mac1";
  if (reason.error == errc::rate_limited) return "rate_limited";
  if (reason.error == errc::unknown_peer) return "unknown_peer";
  if (reason.error == errc::replayed_timestamp) return "replayed_timestamp";
  if (reason.error == errc::timestamp_in_future) return "timestamp_in_future";
  if (reason.error == errc::decrypt_failed || reason.error == errc::weak_public_key) return "decrypt_failed";
  return "malformed";
}

/// Why the dialing side's handshake failed, in the words of the likely fix.
std::string initiator_failure(const tunnel::CloseReason& reason, const std::string& own_public_key) {
  using Kind = tunnel::CloseReason::Kind;
  if (reason.kind == Kind::connection_lost && !reason.error) {
    return "the peer closed the connection during the handshake without a word: it does not know this endpoint's "
           "public key " + own_public_key + " (check public_key in its [[peer]] for this endpoint), or the public_key "
           "configured here for it is not its key, or this clock is behind the time of an earlier handshake";
  }
  if (reason.kind == Kind::handshake_failed && reason.error == tunnel::errc::decrypt_failed) {
    return "the peer's answer to the handshake does not decrypt: the preshared keys of the two sides differ";
  }
  if (reason.kind == Kind::handshake_timeout) {
    return "no answer to the handshake in time: is the endpoint a mailtun listener?";
  }
  return "handshake failed: " + tunnel::to_string(reason);
}

}  // namespace

Endpoint::Endpoint(net::io_context& io, Config config, HandshakeCaps caps)
    : io_(io),
      config_(std::move(config)),
      responder_(config_.interface.private_key),
      handshake_caps_(caps),
      refusal_log_limiter_({.per_second = 1, .burst = 1, .max_sources = 1024, .period = std::chrono::minutes(1)}),
      started_(tunnel::Clock::now()) {
  std::vector<Peer> peers = std::move(config_.peers);
  config_.peers.clear();
  for (Peer& peer : peers) add_peer(std::move(peer));
}

Endpoint::~Endpoint() = default;

std::size_t Endpoint::add_peer(Peer peer) {
  auto state = std::make_unique<PeerState>(PeerState{.config = std::move(peer)});
  state->limits.keepalive = state->config.keepalive;
  state->limits.max_streams = state->config.max_streams;
  state->down_since = tunnel::Clock::now();
  state->down_timer = std::make_unique<net::steady_timer>(io_);
  state->refresh_timer = std::make_unique<net::steady_timer>(io_);
  // The responder borrows the PSK, which lives as long as the slot, that is, as long as we do.
  const auto index = responder_.add_peer(state->config.public_key, state->config.psk);
  peers_.push_back(std::move(state));
  return index;
}

std::optional<std::size_t> Endpoint::active_peer(std::string_view name) const {
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    if (peers_[i]->active && peers_[i]->config.name == name) return i;
  }
  return std::nullopt;
}

std::size_t Endpoint::peer_count() const {
  return static_cast<std::size_t>(std::ranges::count_if(peers_, [](const auto& p) { return p->active; }));
}

std::optional<tcp::endpoint> Endpoint::tunnel_listen_endpoint() const {
  if (!acceptor_) return std::nullopt;
  return acceptor_->local_endpoint();
}

std::shared_ptr<const Connection> Endpoint::current_connection(std::string_view name) const {
  const auto peer = active_peer(name);
  return peer ? peers_[*peer]->current : nullptr;
}

std::string Endpoint::own_public_key() const {
  return keys::to_base64(config_.interface.private_key.public_key().bytes());
}

std::vector<forwarder::ExposeSpec> Endpoint::expose_specs(const std::vector<Expose>& exposes) const {
  std::vector<forwarder::ExposeSpec> specs;
  for (const Expose& expose : exposes) {
    forwarder::ExposeSpec spec{expose.service, resolve_target(io_, expose.target), expose.target.to_string(), {},
                               expose.protocol, expose.proxy_protocol};
    spec.proxy_sources = forwarder::ProxySources(expose.proxy_sources);
    // Counts go on across a reload that keeps the service.
    if (exposes_) {
      const auto& old = exposes_->specs();
      if (const auto it = std::ranges::find(old, expose.service, &forwarder::ExposeSpec::service); it != old.end()) {
        spec.counters = it->counters;
      }
    }
    // Peers are assigned later (assign_expose_peers): a reload resolves targets before it changes peers.
    specs.push_back(std::move(spec));
  }
  return specs;
}

void Endpoint::assign_expose_peers(std::vector<forwarder::ExposeSpec>& specs, const std::vector<Expose>& exposes) const {
  for (std::size_t i = 0; i < specs.size(); ++i) {
    for (const std::string& name : exposes[i].peers) specs[i].peers.push_back(*active_peer(name));
  }
}

Endpoint::RunningForward Endpoint::start_forward(const Forward& forward) {
  // Peers are looked up by name for every client: a reload may give a name a new slot. The first
  // in the forward's order whose connection takes new streams carries it (failover).
  auto lookup = [this, names = forward.peers]() -> std::optional<forwarder::Route> {
    for (const std::string& name : names) {
      const auto peer = active_peer(name);
      if (!peer) continue;
      const auto& current = peers_[*peer]->current;
      if (current && current->session().can_open_streams()) {
        return forwarder::Route{current, name};
      }
    }
    return std::nullopt;
  };
  auto counters = std::make_shared<forwarder::ServiceCounters>();
  auto f = std::make_shared<forwarder::Forward>(
      io_.get_executor(),
      forwarder::ForwardSpec{forward.service, to_endpoint(forward.listen), forward.peers, forward.protocol},
      std::move(lookup), counters);
  try {
    f->start();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("forward " + forward.service + ": cannot listen on " + forward.listen.to_string() + ": " +
                             e.code().message());
  }
  return RunningForward{forward, std::move(f), std::move(counters)};
}

void Endpoint::start() {
  auto specs = expose_specs(config_.exposes);
  assign_expose_peers(specs, config_.exposes);
  exposes_ = std::make_unique<forwarder::Exposes>(io_.get_executor(), std::move(specs), std::chrono::seconds(5));

  for (const Forward& forward : config_.forwards) forwards_.push_back(start_forward(forward));

  if (config_.interface.listen) {
    acceptor_ = std::make_shared<tunnel::asio::Acceptor>(io_.get_executor(), to_endpoint(*config_.interface.listen),
                                                         [this](tcp::socket s) { on_accepted(std::move(s)); });
    try {
      acceptor_->start();
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error("cannot listen for tunnel connections on " + config_.interface.listen->to_string() +
                               ": " + e.code().message());
    }
    spdlog::info("listening for peers on {}", config_.interface.listen->to_string());
  }

  for (std::size_t i = 0; i < peers_.size(); ++i) {
    start_dialer(i, true);
    schedule_down_report(i);
  }
}

void Endpoint::start_dialer(std::size_t peer, bool dial_now) {
  PeerState& state = *peers_[peer];
  if (state.dialer) state.dialer->stop();
  state.dialer.reset();
  if (!state.config.endpoint) return;
  state.dialer = std::make_shared<tunnel::asio::Dialer>(
      io_.get_executor(), state.config.name, state.config.endpoint->host, std::to_string(state.config.endpoint->port),
      [this, peer](tcp::socket s) { on_dialed(peer, std::move(s)); },
      [this, peer](const std::string& why) {
        peers_[peer]->last_error = why;
        notify_peer_state_change();
      });
  if (dial_source_) state.dialer->bind_source(*dial_source_);
  // Without dial_now the dialer starts when the current connection is lost (on_closed).
  if (dial_now) state.dialer->start();
}

void Endpoint::retire_peer(std::size_t peer, bool drain) {
  PeerState& state = *peers_[peer];
  state.active = false;
  responder_.remove_peer(peer);
  if (state.dialer) state.dialer->stop();
  state.dialer.reset();
  state.down_timer->cancel();
  state.refresh_timer->cancel();
  const auto connections = connections_;  // closing erases
  for (const auto& c : connections) {
    if (c->peer() != peer) continue;
    if (drain) {
      c->go_away(drain_bound(state.config));
    } else {
      c->close_now({tunnel::CloseReason::Kind::local, {}});
    }
  }
  state.current.reset();
}

void Endpoint::reload(Config next) {
  // What only a restart can change: the identity and the listening socket the peers know.
  const auto restart_needed = [this](const std::string& what) {
    return std::runtime_error(what + " changed, which needs a restart (systemctl restart mailtun@" +
                              config_.interface.name + ")");
  };
  if (!(next.interface.private_key.public_key() == config_.interface.private_key.public_key())) {
    throw restart_needed("the private key");
  }
  if (next.interface.listen != config_.interface.listen) throw restart_needed("interface.listen");
  if (next.interface.control_socket != config_.interface.control_socket) throw restart_needed("interface.control_socket");
  if (next.interface.metrics_listen != config_.interface.metrics_listen) throw restart_needed("interface.metrics_listen");

  // Everything that can fail is done before anything changes: resolve the expose targets, and
  // bind the forwards that are new on addresses nobody holds now.
  auto specs = expose_specs(next.exposes);
  const auto same_forward = [](const Forward& a, const Forward& b) {
    return a.service == b.service && a.listen == b.listen && a.peers == b.peers && a.protocol == b.protocol;
  };
  std::vector<RunningForward> kept;
  std::vector<RunningForward> started;
  std::vector<const Forward*> replacing;  // new forwards on an address a changed forward holds now
  for (const Forward& forward : next.forwards) {
    const auto old = std::ranges::find_if(forwards_, [&](const RunningForward& r) { return same_forward(r.config, forward); });
    if (old != forwards_.end()) continue;
    if (std::ranges::any_of(forwards_, [&](const RunningForward& r) { return r.config.listen == forward.listen; })) {
      replacing.push_back(&forward);
      continue;
    }
    try {
      started.push_back(start_forward(forward));
    } catch (const std::runtime_error&) {
      for (auto& r : started) r.forward->stop();
      throw;
    }
  }

  // Forwards: keep the unchanged, stop the rest (their open streams go on to their end), then
  // start those that take over an address.
  std::size_t removed_forwards = 0;
  for (RunningForward& running : forwards_) {
    if (std::ranges::any_of(next.forwards, [&](const Forward& f) { return same_forward(running.config, f); })) {
      kept.push_back(std::move(running));
    } else {
      running.forward->stop();
      ++removed_forwards;
    }
  }
  const std::size_t added_forwards = started.size() + replacing.size();
  for (RunningForward& r : started) kept.push_back(std::move(r));
  for (const Forward* forward : replacing) {
    try {
      kept.push_back(start_forward(*forward));
    } catch (const std::runtime_error& e) {
      spdlog::error("reload: {}; that forward is not running", e.what());
    }
  }
  forwards_ = std::move(kept);

  // Peers, by name: the same keys keep their slot and connections; other keys are another peer.
  std::vector<std::string> changed;
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    PeerState& state = *peers_[i];
    if (!state.active) continue;
    const auto it = std::ranges::find(next.peers, state.config.name, &Peer::name);
    const bool same_keys = it != next.peers.end() && it->public_key == state.config.public_key &&
                           sodium_memcmp(it->psk.bytes().data(), state.config.psk.bytes().data(), keys::key_size) == 0;
    if (!same_keys) {
      spdlog::info("reload: peer {} {}", state.config.name, it == next.peers.end() ? "removed" : "has new keys");
      retire_peer(i, it != next.peers.end());
      continue;
    }
    const bool endpoint_changed = it->endpoint != state.config.endpoint;
    state.config.endpoint = it->endpoint;
    state.config.keepalive = it->keepalive;
    state.config.max_streams = it->max_streams;
    state.config.max_session_age = it->max_session_age;
    state.limits.keepalive = it->keepalive;  // for its next connection
    state.limits.max_streams = it->max_streams;
    next.peers.erase(it);
    // Make-before-break: the new endpoint is dialed now, and its connection takes over.
    if (endpoint_changed) start_dialer(i, true);
  }
  for (Peer& peer : next.peers) {
    spdlog::info("reload: peer {} added", peer.name);
    const std::size_t index = add_peer(std::move(peer));
    start_dialer(index, true);
    schedule_down_report(index);
  }

  assign_expose_peers(specs, next.exposes);
  exposes_ = std::make_unique<forwarder::Exposes>(io_.get_executor(), std::move(specs), std::chrono::seconds(5));

  config_.interface.name = next.interface.name;
  config_.forwards = std::move(next.forwards);
  config_.exposes = std::move(next.exposes);
  spdlog::info("reloaded {}: {} peers, {} forwards ({} added, {} removed), {} exposes", config_.path.string(),
               peer_count(), forwards_.size(), added_forwards, removed_forwards, config_.exposes.size());
  notify_peer_state_change();
}

void Endpoint::on_dialed(std::size_t peer, tcp::socket socket) {
  if (shutting_down_ || !peers_[peer]->active) return;
  const Peer& config = peers_[peer]->config;
  auto initiator = tunnel::Initiator::start(config_.interface.private_key, config.public_key, config.psk,
                                            tunnel::Tai64n::from_system_time(std::chrono::system_clock::now()));
  if (!initiator) {
    spdlog::error("peer {}: its public key is unusable ({}); fix public_key in {}", config.name,
                  initiator.error().message(), config_.path.string());
    return peers_[peer]->dialer->lost("unusable public key");
  }
  auto connection = Connection::dial(std::move(socket), std::move(*initiator), peer, peers_[peer]->limits, *this);
  connections_.insert(connection);
  connection->start();
}

void Endpoint::on_accepted(tcp::socket socket) {
  if (shutting_down_) return;
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) return;
  const tunnel::SourceKey source = tunnel::asio::source_of(remote);

  // Connections that have not finished the handshake cost a descriptor and a timer each, and cost
  // a stranger nothing: bound them per source and in all, so no one without the keys can use up
  // the descriptors that Postfix's connections and the real peer need.
  std::erase_if(handshaking_, [](const Handshaking& h) {
    const auto c = h.connection.lock();
    return !c || c->closed() || c->session().established();
  });
  if (static_cast<std::size_t>(std::ranges::count(handshaking_, source, &Handshaking::source)) >=
      handshake_caps_.per_source) {
    ++rejected_handshakes_["too_many_unfinished"];
    return;
  }
  // Never fewer than one per configured peer: after a restart, every office of a VPS with more
  // offices than the cap reconnects at once (docs/operations.md, "One VPS, many offices").
  if (handshaking_.size() >= std::max(handshake_caps_.in_all, peer_count())) {
    ++rejected_handshakes_["too_many_unfinished"];
    // The oldest unfinished handshake is the likeliest to be a stalled attacker.
    if (auto oldest = handshaking_.front().connection.lock()) oldest->close_now({tunnel::CloseReason::Kind::local, {}});
    handshaking_.pop_front();
  }
  // The peer, and so its limits, is known only after message 1 (see on_established).
  auto admit = [this, source] {
    return handshake_limiter_.allow(source, tunnel::Clock::now(), is_proven_source(source));
  };
  auto connection = Connection::accept(std::move(socket), responder_, tunnel::SessionLimits{}, *this, admit);
  connections_.insert(connection);
  handshaking_.push_back({connection, source});
  connection->start();
}

void Endpoint::on_established(Connection& connection) {
  const std::size_t peer = *connection.peer();
  if (connection.session().is_initiator()) {
    if (peers_[peer]->dialer) peers_[peer]->dialer->succeeded();
    become_current(peer, connection);
  } else {
    connection.adopt_limits(peers_[peer]->limits);
    spdlog::debug("peer {}: handshake from {}, awaiting confirmation", peers_[peer]->config.name, connection.remote());
  }
}

void Endpoint::on_confirmed(Connection& connection) {
  remember_proven_source(*peers_[*connection.peer()], tunnel::asio::source_of(connection.remote_endpoint()));
  become_current(*connection.peer(), connection);
}

bool Endpoint::is_proven_source(const tunnel::SourceKey& source) const {
  return std::ranges::any_of(peers_, [&](const auto& peer) {
    return peer->active && std::ranges::find(peer->proven_sources, source) != peer->proven_sources.end();
  });
}

void Endpoint::remember_proven_source(PeerState& state, const tunnel::SourceKey& source) {
  std::erase(state.proven_sources, source);
  state.proven_sources.push_back(source);
  if (state.proven_sources.size() > proven_sources_per_peer) state.proven_sources.pop_front();
}

void Endpoint::become_current(std::size_t peer, Connection& connection) {
  PeerState& state = *peers_[peer];
  // A handshake counts once both sides proved their keys: message 2 for the initiator, the first
  // record for the responder (a message 1 alone may be a replay or come with the wrong PSK).
  ++state.counters.handshakes;
  state.last_handshake = tunnel::Clock::now();
  if (state.current && !state.current->closed() &&
      state.current->session().is_initiator() != connection.session().is_initiator()) {
    // Both sides dial each other. Without a rule each would let the other's connection replace its
    // own, and both would drop; so both keep the one dialed by the side with the lower public key.
    const keys::PublicKey ours = config_.interface.private_key.public_key();
    const bool we_are_lower = std::ranges::lexicographical_compare(ours.bytes(), peers_[peer]->config.public_key.bytes());
    if (state.current->session().is_initiator() == we_are_lower) {
      spdlog::debug("peer {}: keeping the connection dialed by the lower key; closing the one from {}",
                    peers_[peer]->config.name, connection.remote());
      return connection.close_now({tunnel::CloseReason::Kind::local, {}});
    }
  }
  auto old = std::move(state.current);
  state.current = connection.shared_from_this();
  state.current_since = tunnel::Clock::now();
  if (old && !old->closed()) {
    // docs/design.md "Session refresh": make-before-break. New streams go to the new connection;
    // the old one keeps its streams to their end. The listening side retires it (GOAWAY) as it
    // confirms the new one, and probes it, so one whose peer is gone (a restart) closes in seconds.
    const std::chrono::milliseconds drain = drain_bound(state.config);
    std::erase_if(state.draining, [](const auto& weak) {
      const auto c = weak.lock();
      return !c || c->closed();
    });
    state.draining.push_back(old);
    if (state.draining.size() > max_draining_per_peer) {
      if (const auto oldest = state.draining.front().lock()) {
        spdlog::warn("peer {}: more than {} replaced connections still draining; closing the oldest, from {}",
                     state.config.name, max_draining_per_peer, oldest->remote());
        oldest->close_now({tunnel::CloseReason::Kind::local, {}});
      }
      state.draining.pop_front();
    }
    if (connection.session().is_initiator()) {
      spdlog::info("peer {}: fresh session with {}; the previous one drains", state.config.name, connection.remote());
      // By now the listener has confirmed the new session or given up on it.
      old->retire_at(tunnel::Clock::now() + tunnel::initiation_deadline, drain);
    } else {
      spdlog::info("peer {}: new connection from {} takes over from the one from {}, which drains",
                   state.config.name, connection.remote(), old->remote());
      old->retire(drain);
    }
  } else {
    const auto down_for = std::chrono::duration_cast<std::chrono::seconds>(tunnel::Clock::now() - state.down_since);
    spdlog::info("peer {} up (endpoint {}) after {} down", peers_[peer]->config.name, connection.remote(),
                 describe_duration(down_for));
  }
  if (connection.session().is_initiator()) schedule_refresh(peer);
  state.down_timer->cancel();
  state.down_reports = 0;
  notify_peer_state_change();
  if (shutting_down_) connection.go_away(std::chrono::milliseconds(0));
}

void Endpoint::schedule_refresh(std::size_t peer) {
  PeerState& state = *peers_[peer];
  // Up to a tenth earlier, at random: offices that all came up together after a restart of the VPS
  // endpoint must not all handshake again together, every max_session_age.
  const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(state.config.max_session_age);
  std::uniform_int_distribution<std::int64_t> earlier(0, age.count() / 10);
  state.refresh_timer->expires_after(age - std::chrono::milliseconds(earlier(refresh_jitter_)));
  state.refresh_timer->async_wait([this, peer, weak = std::weak_ptr<Connection>(state.current)](
                                      const boost::system::error_code& ec) {
    PeerState& s = *peers_[peer];
    if (ec || shutting_down_ || !s.active || !s.dialer || !s.current || s.current != weak.lock() ||
        !s.current->session().ready()) {
      return;
    }
    // Resolved afresh, so a DNS name that now points elsewhere is followed here too.
    spdlog::info("peer {}: session is {} old; dialing {} for a fresh one", s.config.name,
                 describe_duration(std::chrono::duration_cast<std::chrono::seconds>(tunnel::Clock::now() - *s.current_since)),
                 s.dialer->endpoint_text());
    s.dialer->start();
  });
}

void Endpoint::on_stream_opened(Connection& connection, tunnel::StreamId id, const tunnel::OpenPayload& open) {
  const std::size_t peer = *connection.peer();
  exposes_->on_stream_opened(connection.shared_from_this(), id, open, peer, peers_[peer]->config.name);
}

void Endpoint::on_peer_going_away(Connection& connection) {
  spdlog::info("peer {}: going away, draining its streams", peers_[*connection.peer()]->config.name);
}

void Endpoint::on_closed(Connection& connection, const tunnel::CloseReason& reason) {
  auto self = connection.shared_from_this();
  connections_.erase(self);
  const auto peer = connection.peer();
  if (connection.session().is_initiator() && !connection.session().established()) {
    PeerState& state = *peers_[*peer];
    const std::string why =
        initiator_failure(reason, own_public_key());
    if (reason.kind != tunnel::CloseReason::Kind::local && why != state.last_error) {
      // A key or PSK that does not match is a configuration mistake: say so at once, once.
      spdlog::warn("peer {}: {}", peers_[*peer]->config.name, why);
    }
    if (state.dialer && !shutting_down_) state.dialer->lost(why);
    return check_shutdown_done();
  }
  if (!peer || !connection.session().established()) {
    on_handshake_refused(connection, reason);
    return check_shutdown_done();
  }
  PeerState& state = *peers_[*peer];
  const tunnel::SessionStats& stats = connection.session().stats();
  state.counters.wire_bytes_in += stats.wire_bytes_in;
  state.counters.wire_bytes_out += stats.wire_bytes_out;
  state.counters.streams += stats.streams_opened_local + stats.streams_opened_remote;
  if (state.current != self) {
    spdlog::info("peer {}: the previous connection from {} closed: {}", state.config.name, connection.remote(),
                 tunnel::to_string(reason));
  } else {
    state.current.reset();
    ++state.counters.connections_lost;
    const std::string why = tunnel::to_string(reason);
    spdlog::info("peer {} down: {}", peers_[*peer]->config.name, why);
    went_down(*peer, why);
    if (state.dialer && !shutting_down_) state.dialer->lost(why);
  }
  check_shutdown_done();
}

void Endpoint::on_handshake_refused(const Connection& connection, const tunnel::CloseReason& reason) {
  // Closed by this side (the oldest unfinished handshake making room, counted then; a shutdown):
  // not the stranger's refusal.
  if (reason.kind == tunnel::CloseReason::Kind::local) return;
  const std::string_view name = refusal_name(reason);
  ++rejected_handshakes_[std::string(name)];
  // Strangers and scanners (garbage, a connection closed without a word, a timeout) are their own
  // trouble. A well-formed message 1 that fails on a key or a clock is most likely a peer with a
  // configuration mistake, which the admin must find in one look: a warning, at most one a minute
  // per source, so a flood cannot fill the journal.
  std::string why;
  const std::string own_key = own_public_key();
  if (name == "bad_mac1") {
    why = "it is not addressed to this endpoint's public key " + own_key +
          " (if this is a peer, its [[peer]] public_key for this endpoint is wrong)";
  } else if (name == "unknown_peer") {
    const auto& key = responder_.last_unknown_key();
    why = "its public key " + (key ? keys::to_base64(key->bytes()) : std::string("(unknown)")) +
          " is not the public_key of any [[peer]] in " + config_.path.string();
  } else if (name == "replayed_timestamp") {
    why = "its timestamp is not newer than the last accepted from that peer (a replay, or the peer's clock went "
          "back)";
  } else if (name == "timestamp_in_future") {
    why = "its timestamp is more than 10 minutes ahead of this clock: check the peer's clock";
  } else {
    spdlog::debug("handshake from {} refused: {}", connection.remote(), tunnel::to_string(reason));
    return;
  }
  if (!refusal_log_limiter_.allow(tunnel::asio::source_of(connection.remote_endpoint()), tunnel::Clock::now())) {
    spdlog::debug("handshake from {} refused: {}", connection.remote(), why);
    return;
  }
  spdlog::warn("handshake from {} refused: {}", connection.remote(), why);
}

void Endpoint::went_down(std::size_t peer, const std::string& why) {
  PeerState& state = *peers_[peer];
  state.last_error = why;
  state.down_since = tunnel::Clock::now();
  state.down_reports = 0;
  schedule_down_report(peer);
  notify_peer_state_change();
}

void Endpoint::schedule_down_report(std::size_t peer) {
  PeerState& state = *peers_[peer];
  state.down_timer->expires_at(state.down_since + down_report_due(state.down_reports));
  state.down_timer->async_wait([this, peer](const boost::system::error_code& ec) {
    PeerState& s = *peers_[peer];
    if (ec || shutting_down_ || !s.active || (s.current && s.current->session().ready())) return;
    const auto down_for = std::chrono::duration_cast<std::chrono::seconds>(tunnel::Clock::now() - s.down_since);
    const std::string last = s.last_error.empty()
                                 ? (s.dialer ? std::string("no connection yet") : "no connection from it yet")
                                 : s.last_error;
    spdlog::warn("peer {} still down after {}: {}", peers_[peer]->config.name, describe_duration(down_for), last);
    ++s.down_reports;
    schedule_down_report(peer);
  });
}

void Endpoint::notify_peer_state_change() const {
  if (on_peer_state_change_) on_peer_state_change_();
}

std::string Endpoint::peer_state(std::size_t peer) const {
  const PeerState& state = *peers_[peer];
  if (state.current && !state.current->closed() && state.current->session().ready()) return "up";
  if (state.dialer) return state.dialer->backing_off() ? "down" : "connecting";
  // A replaced connection still draining is no handshake under way.
  const bool handshaking = std::ranges::any_of(connections_, [peer](const auto& c) {
    return c->peer() == peer && !c->closed() && !c->session().ready();
  });
  return handshaking ? "connecting" : "waiting";
}

std::string Endpoint::peer_summary() const {
  std::vector<std::pair<std::string, std::string>> states;
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    if (peers_[i]->active) states.emplace_back(peers_[i]->config.name, peer_state(i));
  }
  return summarize_peers(states);
}

StatusReport Endpoint::status_report() const {
  const tunnel::TimePoint now = tunnel::Clock::now();
  const auto seconds = [](tunnel::Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  StatusReport report{
      .interface = config_.interface.name,
      .public_key = own_public_key(),
      .listen = config_.interface.listen ? config_.interface.listen->to_string() : std::string(),
      .uptime_seconds = seconds(now - started_),
      .version = MAILTUN_VERSION,
      .rejected_handshakes = rejected_handshakes_,
  };

  for (std::size_t i = 0; i < peers_.size(); ++i) {
    const PeerState& state = *peers_[i];
    if (!state.active) continue;
    const Peer& peer = state.config;
    PeerStatus p{
        .name = peer.name,
        .public_key = keys::to_base64(peer.public_key.bytes()),
        .state = peer_state(i),
        .bytes_in = state.counters.wire_bytes_in,
        .bytes_out = state.counters.wire_bytes_out,
        .streams_total = state.counters.streams,
        .reconnects = state.counters.connections_lost,
        .last_error = state.last_error,
    };
    if (state.last_handshake) p.seconds_since_handshake = seconds(now - *state.last_handshake);
    for (const auto& c : connections_) {
      if (c->peer() != i || !c->session().established()) continue;
      const tunnel::SessionStats& stats = c->session().stats();
      p.bytes_in += stats.wire_bytes_in;
      p.bytes_out += stats.wire_bytes_out;
      p.streams_open += c->session().stream_count();
      p.streams_total += stats.streams_opened_local + stats.streams_opened_remote;
    }
    if (state.current && p.state == "up") {
      p.endpoint = state.current->remote();
      if (state.current_since) p.session_age_seconds = seconds(now - *state.current_since);
      if (const auto rtt = state.current->session().stats().rtt) {
        p.rtt_ms = std::chrono::duration<double, std::milli>(*rtt).count();
      }
    } else if (peer.endpoint) {
      p.endpoint = peer.endpoint->to_string();
    }
    report.peers.push_back(std::move(p));
  }

  for (const RunningForward& running : forwards_) {
    const Forward& forward = running.config;
    const forwarder::ServiceCounters& c = *running.counters;
    report.services.push_back({.kind = "forward", .service = forward.service, .address = forward.listen.to_string(),
                               .peers = forward.peers, .streams_open = c.active, .streams_total = c.connections,
                               .unavailable = c.unavailable, .errors = c.refused});
  }
  for (std::size_t i = 0; exposes_ && i < config_.exposes.size(); ++i) {
    const Expose& expose = config_.exposes[i];
    const forwarder::ServiceCounters& c = *exposes_->specs()[i].counters;
    report.services.push_back({.kind = "expose", .service = expose.service, .address = expose.target.to_string(),
                               .peers = expose.peers, .streams_open = c.active, .streams_total = c.connections,
                               .unavailable = c.unavailable, .errors = c.refused});
  }
  return report;
}

void Endpoint::shutdown(std::chrono::milliseconds drain_timeout, std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  if (acceptor_) acceptor_->stop();
  for (auto& f : forwards_) f.forward->stop();
  for (auto& p : peers_) {
    if (p->dialer) p->dialer->stop();
  }
  const auto connections = connections_;  // go_away may close and erase
  for (const auto& c : connections) c->go_away(drain_timeout);
  shutdown_timer_ = std::make_unique<net::steady_timer>(io_, drain_timeout + std::chrono::seconds(1));
  shutdown_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    const auto left = connections_;
    for (const auto& c : left) c->close_now({tunnel::CloseReason::Kind::drain_timeout, {}});
    check_shutdown_done();
  });
  check_shutdown_done();
}

void Endpoint::check_shutdown_done() {
  if (!shutting_down_ || !connections_.empty() || !shutdown_done_) return;
  if (shutdown_timer_) shutdown_timer_->cancel();
  auto done = std::move(shutdown_done_);
  shutdown_done_ = nullptr;
  done();
}

}  // namespace mailtun::cli
