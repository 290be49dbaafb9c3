#include "tunnel/asio/dialer.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>

namespace mailtun::tunnel::asio {
namespace {

constexpr auto connect_timeout = std::chrono::seconds(10);

}  // namespace

Dialer::Dialer(net::any_io_executor executor, std::string peer_name, std::string host, std::string port,
               OnConnected on_connected, OnFailed on_failed)
    : peer_name_(std::move(peer_name)),
      host_(std::move(host)),
      port_(std::move(port)),
      on_connected_(std::move(on_connected)),
      on_failed_(std::move(on_failed)),
      resolver_(executor),
      timer_(executor),
      rng_(std::random_device{}()) {}

void Dialer::start() {
  if (!attempting_) attempt();
}

void Dialer::stop() {
  stopped_ = true;
  timer_.cancel();
  resolver_.cancel();
  if (socket_) {
    boost::system::error_code ignored;
    socket_->close(ignored);
  }
}

void Dialer::succeeded() {
  backoff_.reset();
  last_failure_.clear();
}

void Dialer::lost(const std::string& why) {
  // An attempt in flight (a session refresh dials while the connection is up) reports for itself;
  // scheduling another would run two at once and cancel the first one's connect timeout.
  if (!attempting_) schedule(why);
}

void Dialer::attempt() {
  backing_off_ = false;
  if (stopped_) return;
  attempting_ = true;
  // Resolve afresh every time: the office's view of the VPS may change, and DNS-based failover
  // must take effect without a restart.
  resolver_.async_resolve(host_, port_, [self = shared_from_this()](const boost::system::error_code& ec,
                                                                    tcp::resolver::results_type results) {
    if (self->stopped_) return;
    if (ec) return self->schedule("cannot resolve " + self->host_ + ": " + ec.message());
    self->socket_ = std::make_shared<tcp::socket>(self->timer_.get_executor());
    auto socket = self->socket_;
    // A blackholed address would take the kernel minutes to give up on; the timer closes the
    // socket, which ends the connect (all addresses) with an error.
    auto timed_out = std::make_shared<bool>(false);
    self->timer_.expires_after(connect_timeout);
    self->timer_.async_wait([socket, timed_out](const boost::system::error_code& tec) {
      if (tec) return;
      *timed_out = true;
      boost::system::error_code ignored;
      socket->close(ignored);
    });
    auto done = [self, socket, timed_out](const boost::system::error_code& cec) {
      if (self->stopped_) return;
      self->timer_.cancel();
      self->socket_.reset();
      if (*timed_out) return self->schedule("cannot connect to " + self->endpoint_text() + ": timed out");
      if (cec) return self->schedule("cannot connect to " + self->endpoint_text() + ": " + cec.message());
      self->attempting_ = false;
      self->on_connected_(std::move(*socket));
    };
    if (!self->source_) {
      return net::async_connect(*socket, results,
                                [done](const boost::system::error_code& cec, const tcp::endpoint&) { done(cec); });
    }
    // From a given address: the first address of its family only, as connecting to another
    // would reopen the socket and lose the bind.
    for (const auto& entry : results) {
      const tcp::endpoint target = entry.endpoint();
      if (target.address().is_v4() != self->source_->is_v4()) continue;
      boost::system::error_code bec;
      socket->open(target.protocol(), bec);
      if (!bec) socket->bind(tcp::endpoint(*self->source_, 0), bec);
      if (bec) {
        self->timer_.cancel();
        return self->schedule("cannot bind to " + self->source_->to_string() + ": " + bec.message());
      }
      return socket->async_connect(target, done);
    }
    self->timer_.cancel();
    self->schedule(self->host_ + " has no address of the family of " + self->source_->to_string());
  });
}

void Dialer::schedule(const std::string& why) {
  if (stopped_) return;
  attempting_ = false;
  if (why != last_failure_) {
    spdlog::info("peer {}: {}; retrying", peer_name_, why);
    last_failure_ = why;
  } else {
    spdlog::debug("peer {}: {}; retrying", peer_name_, why);
  }
  backing_off_ = true;
  if (on_failed_) on_failed_(why);
  timer_.expires_after(backoff_.next_delay(rng_));
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->attempt();
  });
}

}  // namespace mailtun::tunnel::asio
