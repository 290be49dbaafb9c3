#pragma once
// Accepts tunnel connections on the listening side. A source address that attempts handshakes
// faster than the limiter allows is dropped at once, before a byte is read (DESIGN §4.1 rule 2).

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

  Acceptor(net::any_io_executor executor, tcp::endpoint listen, HandshakeLimiter limiter, OnAccepted on_accepted);

  /// Binds and listens; throws boost::system::system_error when it cannot.
  void start();
  void stop();
  [[nodiscard]] tcp::endpoint local_endpoint() const;
  [[nodiscard]] std::uint64_t dropped() const { return dropped_; }

 private:
  void accept();

  tcp::acceptor acceptor_;
  AcceptPause pause_;
  tcp::endpoint listen_;
  HandshakeLimiter limiter_;
  OnAccepted on_accepted_;
  std::uint64_t dropped_ = 0;
};

}  // namespace mailtun::tunnel::asio
