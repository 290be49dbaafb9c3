#pragma once
// Runs an io_context until a condition holds, with a deadline: in-process tests of the I/O shell
// await an outcome rather than sleep for it, and a wrong outcome fails in bounded time.

#include <boost/asio/io_context.hpp>
#include <chrono>

namespace mailtun::testing {

/// Runs `io` in short slices until `done()` is true; false if `timeout` passes first.
template <typename Pred>
bool run_until(boost::asio::io_context& io, Pred done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.run_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace mailtun::testing
