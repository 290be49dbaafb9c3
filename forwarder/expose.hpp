#pragma once
// Exposes (DESIGN §2, §7): the services a peer may open through the tunnel, each mapped to a local
// target. A stream for anything else is reset with the matching code and a log line.

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "forwarder/counters.hpp"
#include "forwarder/proxy_header.hpp"
#include "forwarder/proxy_sources.hpp"
#include "forwarder/warning_limiter.hpp"
#include "forwarder/service.hpp"
#include "tunnel/asio/connection.hpp"

namespace mailtun::forwarder {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct ExposeSpec {
  std::string service;
  std::vector<tcp::endpoint> targets;  // resolved at start; tried in order
  std::string target_text;             // as configured, for logs
  std::vector<std::size_t> peers;      // indices of the peers that may open it
  Protocol protocol;
  std::optional<ProxyVersion> proxy;
  /// The client addresses a peer may claim when `proxy` is set.
  ProxySources proxy_sources{default_proxy_sources()};
  /// Owned by the caller too, so counts survive a reload that rebuilds the Exposes.
  std::shared_ptr<ServiceCounters> counters = std::make_shared<ServiceCounters>();
};

class Exposes {
 public:
  Exposes(net::any_io_executor executor, std::vector<ExposeSpec> specs, std::chrono::milliseconds connect_timeout);

  /// A peer opened a stream: check it is allowed, connect to the target, splice. Resets with
  /// RST 1 (unknown service), 2 (not exposed to this peer), 3 (target unreachable) or 4 (target
  /// refused the connection). A PROXY header's client address outside the expose's proxy_sources
  /// is RST 2 (not allowed), since the target would trust it.
  void on_stream_opened(const std::shared_ptr<tunnel::asio::Connection>& connection, tunnel::StreamId id,
                        const tunnel::OpenPayload& open, std::size_t peer, const std::string& peer_name);

  [[nodiscard]] const std::vector<ExposeSpec>& specs() const { return specs_; }

 private:
  /// Logs a refused OPEN, at most one line per peer per minute: a peer can send them at will.
  void warn_refused(std::size_t peer, const std::string& peer_name, const std::string& service,
                    const std::string& why);

  net::any_io_executor executor_;
  std::vector<ExposeSpec> specs_;
  WarningLimiter warnings_;
  std::chrono::milliseconds connect_timeout_;
};

}  // namespace mailtun::forwarder
