#pragma once
// A forward (DESIGN §2, §7): a local listener whose connections become streams to a named service
// at a peer. With no usable tunnel it answers in the client's protocol (DESIGN §5) and closes.

#include <boost/asio/ip/tcp.hpp>

#include "tunnel/asio/accept_pause.hpp"
#include <functional>
#include <memory>
#include <string>

#include "forwarder/counters.hpp"
#include "forwarder/service.hpp"
#include "tunnel/asio/connection.hpp"

namespace mailtun::forwarder {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct ForwardSpec {
  std::string service;
  tcp::endpoint listen;
  std::string peer_name;
  Protocol protocol;
};

class Forward : public std::enable_shared_from_this<Forward> {
 public:
  /// Returns the peer's ready connection, or null when there is none.
  using ConnectionLookup = std::function<std::shared_ptr<tunnel::asio::Connection>()>;

  Forward(net::any_io_executor executor, ForwardSpec spec, ConnectionLookup lookup,
          std::shared_ptr<ServiceCounters> counters);

  /// Binds and listens; throws boost::system::system_error naming the address when it cannot.
  void start();
  void stop();
  [[nodiscard]] const ForwardSpec& spec() const { return spec_; }

 private:
  void accept();
  void on_client(tcp::socket client);

  ForwardSpec spec_;
  tcp::acceptor acceptor_;
  tunnel::asio::AcceptPause pause_;
  ConnectionLookup lookup_;
  std::shared_ptr<ServiceCounters> counters_;
};

/// Converts a socket address to the OPEN frame's address form.
tunnel::Address to_address(const tcp::endpoint& endpoint);

}  // namespace mailtun::forwarder
