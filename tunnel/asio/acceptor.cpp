#include "tunnel/asio/acceptor.hpp"

#include <spdlog/spdlog.h>

namespace mailtun::tunnel::asio {
SourceKey source_of(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return SourceKey::ipv4(net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6()).to_bytes());
  }
  return address.is_v4() ? SourceKey::ipv4(address.to_v4().to_bytes()) : SourceKey::ipv6(address.to_v6().to_bytes());
}

Acceptor::Acceptor(net::any_io_executor executor, tcp::endpoint listen, OnAccepted on_accepted)
    : acceptor_(executor), pause_(executor), listen_(listen), on_accepted_(std::move(on_accepted)) {}

void Acceptor::start() {
  acceptor_.open(listen_.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(listen_);
  acceptor_.listen(net::socket_base::max_listen_connections);
  accept();
}

void Acceptor::stop() {
  boost::system::error_code ignored;
  pause_.cancel();
  acceptor_.close(ignored);
}

tcp::endpoint Acceptor::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void Acceptor::accept() {
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (ec) {
      return self->pause_.after_error(ec, "tunnel: accept on " + self->listen_.address().to_string(),
                                      [self] { self->accept(); });
    }
    self->pause_.succeeded();
    self->on_accepted_(std::move(socket));
    self->accept();
  });
}

}  // namespace mailtun::tunnel::asio
