#include "forwarder/forward.hpp"

#include <spdlog/spdlog.h>

#include "forwarder/splice.hpp"
#include "forwarder/unavailable_reply.hpp"

namespace mailtun::forwarder {

tunnel::Address to_address(const tcp::endpoint& endpoint) {
  tunnel::Address a;
  a.port = endpoint.port();
  if (endpoint.address().is_v4()) {
    a.family = 4;
    const auto bytes = endpoint.address().to_v4().to_bytes();
    std::copy(bytes.begin(), bytes.end(), a.bytes.begin());
  } else {
    a.family = 6;
    const auto bytes = endpoint.address().to_v6().to_bytes();
    std::copy(bytes.begin(), bytes.end(), a.bytes.begin());
  }
  return a;
}

std::string unavailable_peers(const std::vector<std::string>& names) {
  std::string out = names.size() == 1 ? "peer " : "peers ";
  for (std::size_t i = 0; i < names.size(); ++i) out += (i == 0 ? "" : ", ") + names[i];
  return out;
}

Forward::Forward(net::any_io_executor executor, ForwardSpec spec, ConnectionLookup lookup,
                 std::shared_ptr<ServiceCounters> counters)
    : spec_(std::move(spec)), acceptor_(executor), pause_(executor), lookup_(std::move(lookup)), counters_(std::move(counters)) {}

void Forward::start() {
  acceptor_.open(spec_.listen.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(spec_.listen);
  acceptor_.listen(net::socket_base::max_listen_connections);
  accept();
}

void Forward::stop() {
  boost::system::error_code ignored;
  pause_.cancel();
  acceptor_.close(ignored);
}

void Forward::accept() {
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec, tcp::socket client) {
    if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (ec) {
      return self->pause_.after_error(
          ec, "service " + self->spec_.service + ": accept on " + self->spec_.listen.address().to_string(),
          [self] { self->accept(); });
    }
    self->pause_.succeeded();
    self->on_client(std::move(client));
    self->accept();
  });
}

void Forward::on_client(tcp::socket client) {
  ++counters_->connections;
  boost::system::error_code ec;
  const tcp::endpoint source = client.remote_endpoint(ec);
  const tcp::endpoint destination = client.local_endpoint(ec);

  auto route = lookup_();
  std::optional<tunnel::StreamId> id;
  if (route) {
    tunnel::OpenPayload open{spec_.service, to_address(source), to_address(destination)};
    if (auto opened = route->connection->open_stream(open)) id = *opened;
  }
  if (!id) {
    // Answer at once so the client defers with a reason and never waits on a dead tunnel.
    ++counters_->unavailable;
    const std::string who = unavailable_peers(spec_.peer_names);
    spdlog::debug("service {}: {} unavailable, answered the client", spec_.service, who);
    const auto reply = unavailable_reply(spec_.protocol, "mailtun: " + who + " unavailable");
    boost::system::error_code ignored;
    client.set_option(tcp::no_delay(true), ignored);
    client.non_blocking(true, ignored);
    client.write_some(net::buffer(reply), ignored);
    client.shutdown(tcp::socket::shutdown_both, ignored);
    client.close(ignored);
    return;
  }
  auto splice = std::make_shared<Splice>(Splice::Side::forward, std::move(client), route->connection, *id,
                                         spec_.protocol, counters_, spec_.service, route->peer_name);
  route->connection->attach(*id, splice);
  splice->start();
}

}  // namespace mailtun::forwarder
