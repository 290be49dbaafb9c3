#pragma once
// After an accept error (EMFILE and the like) the pending connection stays in the kernel's backlog,
// so accepting again at once would spin: pause briefly, and warn once until accepting works again.
// Shared by the tunnel acceptor and the forwards' listeners.

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <string_view>

namespace mailtun::tunnel::asio {

class AcceptPause {
 public:
  explicit AcceptPause(boost::asio::any_io_executor executor) : timer_(std::move(executor)) {}

  /// Logs `what` failed (once per run of failures) and calls `resume` after the pause.
  template <typename Resume>
  void after_error(const boost::system::error_code& ec, std::string_view what, Resume resume) {
    if (!failing_) {
      spdlog::warn("{} failed: {}; pausing", what, ec.message());
      failing_ = true;
    }
    timer_.expires_after(std::chrono::milliseconds(100));
    timer_.async_wait([resume = std::move(resume)](const boost::system::error_code& wait_ec) {
      if (!wait_ec) resume();
    });
  }
  void succeeded() { failing_ = false; }
  void cancel() { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
  bool failing_ = false;
};

}  // namespace mailtun::tunnel::asio
