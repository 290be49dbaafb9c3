#include "forwarder/expose.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>

#include "forwarder/splice.hpp"
#include "tunnel/printable.hpp"

namespace mailtun::forwarder {

Exposes::Exposes(net::any_io_executor executor, std::vector<ExposeSpec> specs,
                 std::chrono::milliseconds connect_timeout)
    : executor_(std::move(executor)),
      specs_(std::move(specs)),
      connect_timeout_(connect_timeout) {}

void Exposes::warn_refused(std::size_t peer, const std::string& peer_name, const std::string& service,
                           const std::string& why) {
  const auto left_out = warnings_.allow(peer, std::chrono::steady_clock::now());
  if (!left_out) return;
  spdlog::warn("peer {}: refused a stream for service {}: {}{}", peer_name, tunnel::printable(service), why,
               *left_out == 0 ? "" : " (and " + std::to_string(*left_out) + " refusals not logged)");
}

void Exposes::on_stream_opened(const std::shared_ptr<tunnel::asio::Connection>& connection, tunnel::StreamId id,
                               const tunnel::OpenPayload& open, std::size_t peer, const std::string& peer_name) {
  const auto spec = std::ranges::find(specs_, open.service, &ExposeSpec::service);
  if (spec == specs_.end()) {
    warn_refused(peer, peer_name, open.service, "not exposed here");
    return connection->reset(id, tunnel::ResetCode::unknown_service, "no such service here");
  }
  if (std::ranges::find(spec->peers, peer) == spec->peers.end()) {
    warn_refused(peer, peer_name, open.service, "not exposed to this peer");
    return connection->reset(id, tunnel::ResetCode::not_allowed, "service not exposed to this peer");
  }
  if (spec->proxy && !proxy_addresses_known(open.source, open.destination)) {
    // A PROXY header without the client's address would make the service see mailtun's loopback
    // address, which mail servers tend to trust: refuse instead.
    warn_refused(peer, peer_name, open.service, "no client address for the PROXY header");
    return connection->reset(id, tunnel::ResetCode::protocol_error, "client address required");
  }
  if (spec->proxy && !spec->proxy_sources.allows(open.source)) {
    // The target trusts the PROXY header: a peer may only name clients the expose allows it.
    warn_refused(peer, peer_name, open.service,
                 "client address " + address_text(open.source) + " is not in proxy_sources");
    return connection->reset(id, tunnel::ResetCode::not_allowed, "client address not allowed");
  }
  const auto counters = spec->counters;
  ++counters->connections;

  std::vector<std::uint8_t> prefix;
  if (spec->proxy) prefix = proxy_header(*spec->proxy, open.source, open.destination);
  auto splice = std::make_shared<Splice>(Splice::Side::expose, tcp::socket(executor_), connection, id, spec->protocol,
                                         counters, spec->service, peer_name, std::move(prefix));
  // Attach before connecting: DATA that followed the OPEN is kept until the target answers.
  connection->attach(id, splice);

  auto timer = std::make_shared<net::steady_timer>(executor_, connect_timeout_);
  std::weak_ptr<tunnel::asio::Connection> weak_connection = connection;
  // Whichever of the timer and the connect finishes first decides; the other then does nothing.
  // Closing (not cancelling) the socket also stops a connect that moved on to the next address.
  auto decided = std::make_shared<bool>(false);
  timer->async_wait([splice, decided](const boost::system::error_code& ec) {
    if (ec || *decided) return;
    *decided = true;
    boost::system::error_code ignored;
    splice->local_socket().close(ignored);  // the connect completes with an error
  });
  net::async_connect(
      splice->local_socket(), spec->targets,
      [splice, timer, decided, weak_connection, id, service = spec->service, target = spec->target_text, counters](
          const boost::system::error_code& ec, const tcp::endpoint&) {
        const bool timed_out = *decided;
        *decided = true;
        timer->cancel();
        if (!ec && !timed_out) return splice->start();
        const bool refused = ec == net::error::connection_refused;
        const auto code = refused ? tunnel::ResetCode::backend_refused : tunnel::ResetCode::backend_unreachable;
        const std::string why = timed_out ? "connect timed out" : ec.message();
        spdlog::warn("service {}: cannot reach {}: {}", service, target, why);
        ++counters->refused;
        splice->abandon();
        if (auto c = weak_connection.lock()) c->reset(id, code, "service unavailable: " + why);
      });
}

}  // namespace mailtun::forwarder
