#pragma once
// Keeps one peer connected from the dialing side (DESIGN §4.4): resolves the endpoint's host name
// afresh on every attempt, connects, and after a failure or a lost connection tries again with
// exponential backoff and jitter, for ever. Logs a state change once, not every retry.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "tunnel/backoff.hpp"

namespace mailtun::tunnel::asio {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class Dialer : public std::enable_shared_from_this<Dialer> {
 public:
  using OnConnected = std::function<void(tcp::socket)>;
  /// Every failed attempt and every lost connection, with why (the endpoint keeps the last error
  /// for `mailtun status` and reports a peer that stays down).
  using OnFailed = std::function<void(const std::string& why)>;

  Dialer(net::any_io_executor executor, std::string peer_name, std::string host, std::string port,
         OnConnected on_connected, OnFailed on_failed = nullptr);

  /// Connects from `address` (any port) rather than from the address the kernel picks; before
  /// start(). For the office simulator, whose offices each come from an address of their own.
  void bind_source(net::ip::address address) { source_ = address; }
  /// Dials now, unless an attempt is under way.
  void start();
  /// The connection it made is established: the next failure starts backoff from the beginning.
  void succeeded();
  /// The connection it made failed or ended: dial again after the next backoff delay (unless an
  /// attempt is under way, which reports for itself).
  void lost(const std::string& why);
  void stop();
  [[nodiscard]] std::string endpoint_text() const { return host_ + ":" + port_; }
  /// Waiting out a backoff delay after a failure (rather than resolving, connecting or connected).
  [[nodiscard]] bool backing_off() const { return backing_off_; }

 private:
  void attempt();
  void schedule(const std::string& why);

  std::string peer_name_;
  std::string host_;
  std::string port_;
  OnConnected on_connected_;
  OnFailed on_failed_;
  tcp::resolver resolver_;
  net::steady_timer timer_;
  std::shared_ptr<tcp::socket> socket_;
  Backoff backoff_;
  std::mt19937_64 rng_;
  std::optional<net::ip::address> source_;
  std::string last_failure_;  // logged once until it changes or the peer comes up
  bool stopped_ = false;
  bool backing_off_ = false;
  bool attempting_ = false;  // resolving or connecting, until it connects or schedule()s a retry
};

}  // namespace mailtun::tunnel::asio
