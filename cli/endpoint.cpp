#include "cli/endpoint.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <stdexcept>

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

}  // namespace

Endpoint::Endpoint(net::io_context& io, Config config)
    : io_(io), config_(std::move(config)), responder_(config_.interface.private_key), peers_(config_.peers.size()) {
  for (std::size_t i = 0; i < config_.peers.size(); ++i) {
    const Peer& peer = config_.peers[i];
    responder_.add_peer(peer.public_key, peer.psk);
    peers_[i].limits.keepalive = peer.keepalive;
    peers_[i].limits.max_streams = peer.max_streams;
  }
}

Endpoint::~Endpoint() = default;

void Endpoint::start() {
  const auto executor = io_.get_executor();

  std::vector<forwarder::ExposeSpec> specs;
  for (const Expose& expose : config_.exposes) {
    forwarder::ExposeSpec spec{expose.service, resolve_target(io_, expose.target), expose.target.to_string(), {},
                               expose.protocol, expose.proxy_protocol};
    for (const std::string& name : expose.peers) {
      const auto it = std::ranges::find(config_.peers, name, &Peer::name);
      spec.peers.push_back(static_cast<std::size_t>(it - config_.peers.begin()));
    }
    specs.push_back(std::move(spec));
  }
  exposes_ = std::make_unique<forwarder::Exposes>(executor, std::move(specs), std::chrono::seconds(5));

  for (const Forward& forward : config_.forwards) {
    const auto peer_it = std::ranges::find(config_.peers, forward.peer, &Peer::name);
    const auto peer = static_cast<std::size_t>(peer_it - config_.peers.begin());
    auto lookup = [this, peer]() -> std::shared_ptr<Connection> {
      const auto& current = peers_[peer].current;
      return current && current->session().ready() ? current : nullptr;
    };
    auto f = std::make_shared<forwarder::Forward>(
        executor, forwarder::ForwardSpec{forward.service, to_endpoint(forward.listen), forward.peer, forward.protocol},
        std::move(lookup), std::make_shared<forwarder::ServiceCounters>());
    try {
      f->start();
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error("forward " + forward.service + ": cannot listen on " + forward.listen.to_string() +
                               ": " + e.code().message());
    }
    forwards_.push_back(std::move(f));
  }

  if (config_.interface.listen) {
    acceptor_ = std::make_shared<tunnel::asio::Acceptor>(executor, to_endpoint(*config_.interface.listen),
                                                         tunnel::HandshakeLimiter{},
                                                         [this](tcp::socket s) { on_accepted(std::move(s)); });
    try {
      acceptor_->start();
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error("cannot listen for tunnel connections on " + config_.interface.listen->to_string() +
                               ": " + e.code().message());
    }
    spdlog::info("listening for peers on {}", config_.interface.listen->to_string());
  }

  for (std::size_t i = 0; i < config_.peers.size(); ++i) {
    const Peer& peer = config_.peers[i];
    if (!peer.endpoint) continue;
    peers_[i].dialer = std::make_shared<tunnel::asio::Dialer>(
        executor, peer.name, peer.endpoint->host, std::to_string(peer.endpoint->port),
        [this, i](tcp::socket s) { on_dialed(i, std::move(s)); });
    peers_[i].dialer->start();
  }
}

void Endpoint::on_dialed(std::size_t peer, tcp::socket socket) {
  if (shutting_down_) return;
  const Peer& config = config_.peers[peer];
  auto initiator = tunnel::Initiator::start(config_.interface.private_key, config.public_key, config.psk,
                                            tunnel::Tai64n::from_system_time(std::chrono::system_clock::now()));
  if (!initiator) {
    spdlog::error("peer {}: its public key is unusable ({}); fix public_key in {}", config.name,
                  initiator.error().message(), config_.path.string());
    return peers_[peer].dialer->lost("unusable public key");
  }
  auto connection = Connection::dial(std::move(socket), std::move(*initiator), peer, peers_[peer].limits, *this);
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
  if (std::ranges::count(handshaking_, source, &Handshaking::source) >= max_handshakes_per_source) return;
  if (handshaking_.size() >= max_handshakes) {
    // The oldest unfinished handshake is the likeliest to be a stalled attacker.
    if (auto oldest = handshaking_.front().connection.lock()) oldest->close_now({tunnel::CloseReason::Kind::local, {}});
    handshaking_.pop_front();
  }
  // The peer, and so its limits, is known only after message 1 (see on_established).
  auto connection = Connection::accept(std::move(socket), responder_, tunnel::SessionLimits{}, *this);
  connections_.insert(connection);
  handshaking_.push_back({connection, source});
  connection->start();
}

void Endpoint::on_established(Connection& connection) {
  const std::size_t peer = *connection.peer();
  ++peers_[peer].counters.handshakes;
  if (connection.session().is_initiator()) {
    if (peers_[peer].dialer) peers_[peer].dialer->succeeded();
    become_current(peer, connection);
  } else {
    connection.adopt_limits(peers_[peer].limits);
    spdlog::debug("peer {}: handshake from {}, awaiting confirmation", config_.peers[peer].name, connection.remote());
  }
}

void Endpoint::on_confirmed(Connection& connection) { become_current(*connection.peer(), connection); }

void Endpoint::become_current(std::size_t peer, Connection& connection) {
  PeerState& state = peers_[peer];
  if (state.current && !state.current->closed() &&
      state.current->session().is_initiator() != connection.session().is_initiator()) {
    // Both sides dial each other. Without a rule each would let the other's connection replace its
    // own, and both would drop; so both keep the one dialed by the side with the lower public key.
    const keys::PublicKey ours = config_.interface.private_key.public_key();
    const bool we_are_lower = std::ranges::lexicographical_compare(ours.bytes(), config_.peers[peer].public_key.bytes());
    if (state.current->session().is_initiator() == we_are_lower) {
      spdlog::debug("peer {}: keeping the connection dialed by the lower key; closing the one from {}",
                    config_.peers[peer].name, connection.remote());
      return connection.close_now({tunnel::CloseReason::Kind::local, {}});
    }
  }
  auto old = std::move(state.current);
  state.current = connection.shared_from_this();
  if (old && !old->closed()) {
    // DESIGN §4.1: the confirmed new session replaces the old; its streams are reset.
    spdlog::info("peer {}: new connection from {} replaces the one from {}", config_.peers[peer].name,
                 connection.remote(), old->remote());
    old->close_now({tunnel::CloseReason::Kind::local, {}});
  } else {
    spdlog::info("peer {} up (endpoint {})", config_.peers[peer].name, connection.remote());
  }
  if (shutting_down_) connection.go_away(std::chrono::milliseconds(0));
}

void Endpoint::on_stream_opened(Connection& connection, tunnel::StreamId id, const tunnel::OpenPayload& open) {
  const std::size_t peer = *connection.peer();
  ++peers_[peer].counters.streams;
  exposes_->on_stream_opened(connection.shared_from_this(), id, open, peer, config_.peers[peer].name);
}

void Endpoint::on_peer_going_away(Connection& connection) {
  spdlog::info("peer {}: going away, draining its streams", config_.peers[*connection.peer()].name);
}

void Endpoint::on_closed(Connection& connection, const tunnel::CloseReason& reason) {
  auto self = connection.shared_from_this();
  connections_.erase(self);
  const auto peer = connection.peer();
  if (!peer || !connection.session().established()) {
    // A stranger, a scanner or a failed handshake: their trouble, logged quietly.
    if (reason.error == tunnel::errc::timestamp_in_future) {
      // Only a holder of a peer's key gets this far: most likely that peer's clock is wrong, which
      // its admin needs to hear about.
      spdlog::warn("connection from {} refused: {}", connection.remote(), reason.error.message());
    } else {
      spdlog::debug("connection from {} closed: {}", connection.remote(), tunnel::to_string(reason));
    }
    if (connection.session().is_initiator() && peer && peers_[*peer].dialer) {
      peers_[*peer].dialer->lost(tunnel::to_string(reason));
    }
    return check_shutdown_done();
  }
  PeerState& state = peers_[*peer];
  state.counters.wire_bytes_in += connection.session().stats().wire_bytes_in;
  state.counters.wire_bytes_out += connection.session().stats().wire_bytes_out;
  if (state.current == self) {
    state.current.reset();
    ++state.counters.connections_lost;
    spdlog::info("peer {} down: {}", config_.peers[*peer].name, tunnel::to_string(reason));
    if (state.dialer && !shutting_down_) state.dialer->lost(tunnel::to_string(reason));
  }
  check_shutdown_done();
}

void Endpoint::shutdown(std::chrono::milliseconds drain_timeout, std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  if (acceptor_) acceptor_->stop();
  for (auto& f : forwards_) f->stop();
  for (auto& p : peers_) {
    if (p.dialer) p.dialer->stop();
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
