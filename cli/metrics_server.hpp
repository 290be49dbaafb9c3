#pragma once
// `interface.metrics_listen`: the status report in Prometheus text format over HTTP/1.x, for a
// scraper. One request per connection (Connection: close); GET /metrics answers 200 with
// render_prometheus(), any other path 404, any other method 405. Requests are read with a bounded
// head and a deadline, and only so many clients are served at once, so a slow or hostile client
// can hold a connection but never the event loop.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <set>

#include "cli/status_report.hpp"
#include "tunnel/asio/accept_pause.hpp"

namespace mailtun::cli {

class MetricsServer : public std::enable_shared_from_this<MetricsServer> {
 public:
  using Provider = std::function<StatusReport()>;

  /// Clients served at once; more are closed unanswered until one finishes.
  static constexpr std::size_t max_clients = 8;
  /// A request line and headers longer than this are answered 431 and closed.
  static constexpr std::size_t max_request_head = 8 * 1024;
  /// A client must send its request and read the answer within this.
  static constexpr std::chrono::milliseconds default_client_timeout{10000};

  /// `provider` is called on the executor's loop, once per scrape.
  MetricsServer(boost::asio::any_io_executor executor, boost::asio::ip::tcp::endpoint listen, Provider provider,
                std::chrono::milliseconds client_timeout = default_client_timeout);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  /// Binds and starts serving. Throws std::runtime_error naming the address when it cannot bind.
  void start();
  /// Stops accepting and closes every client. Safe to call more than once.
  void stop();
  /// The bound address (its port when `listen` asked for port 0).
  [[nodiscard]] boost::asio::ip::tcp::endpoint local_endpoint() const;

 private:
  class Client;
  void accept();
  void finished(const std::shared_ptr<Client>& client) { clients_.erase(client); }

  boost::asio::ip::tcp::acceptor acceptor_;
  tunnel::asio::AcceptPause pause_;
  boost::asio::ip::tcp::endpoint listen_;
  Provider provider_;
  std::chrono::milliseconds client_timeout_;
  std::set<std::shared_ptr<Client>> clients_;
};

}  // namespace mailtun::cli
