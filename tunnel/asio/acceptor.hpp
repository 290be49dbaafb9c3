#pragma once
// Accepts tunnel connections on the listening side. The handshake rate limit is not applied
// here but once message 1 has passed mac1 (Responder::Admission), so that strangers cannot spend
// a source's handshakes.

#include <boost/asio/ip/tcp.hpp>

#include "tunnel/asio/accept_pause.hpp"
#include <functional>
#include <memory>

#include "tunnel/handshake_limiter.hpp"

namespace mailtun::tunnel::asio {

namespace net = boost::asio;
using tcp = net::ip::tcp;

/// The handshake limiter's key for a connection's source: IPv4 (also when mapped into IPv6) or the
/// IPv6 /64.
SourceKey source_of(const tcp::endpoint& endpoint);

class Acceptor : public std::enable_shared_from_this<Acceptor> {
 public:
  using OnAccepted = std::function<void(tcp::socket)>;

  Acceptor(net::any_io_executor executor, tcp::endpoint listen, OnAccepted on_accepted);

  /// Binds and listens; throws boost::system::system_error when it cannot.
  void start();
  void stop();
  [[nodiscard]] tcp::endpoint local_endpoint() const;

 private:
  void accept();

  tcp::acceptor acceptor_;
  AcceptPause pause_;
  tcp::endpoint listen_;
  OnAccepted on_accepted_;
};

}  // namespace mailtun::tunnel::asio
