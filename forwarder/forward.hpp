#pragma once
// A forward (DESIGN §2, §7): a local listener whose connections become streams to a named service
// at a peer. With no usable tunnel it answers in the client's protocol (DESIGN §5) and closes.

#include <boost/asio/ip/tcp.hpp>

#include "tunnel/asio/accept_pause.hpp"
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "forwarder/counters.hpp"
#include "forwarder/service.hpp"
#include "tunnel/asio/connection.hpp"

namespace mailtun::forwarder {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct ForwardSpec {
  std::string service;
  tcp::endpoint listen;
  std::vector<std::string> peer_names;  // in order of preference, for messages
  Protocol protocol;
};

/// Where a new stream goes: a ready connection that accepts new streams, and its peer's name.
struct Route {
  std::shared_ptr<tunnel::asio::Connection> connection;
  std::string peer_name;
};

class Forward : public std::enable_shared_from_this<Forward> {
 public:
  /// The first of the spec's peers whose connection takes new streams, or nullopt when none does.
  using ConnectionLookup = std::function<std::optional<Route>()>;

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

/// "peer office" or "peers vps1, vps2": who a forward's client was refused for.
std::string unavailable_peers(const std::vector<std::string>& names);

/// Converts a socket address to the OPEN frame's address form.
tunnel::Address to_address(const tcp::endpoint& endpoint);

}  // namespace mailtun::forwarder
