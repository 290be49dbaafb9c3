#pragma once
// Warnings that a peer can cause at will (a stream for a service that is not exposed, a client
// address it may not claim) must not let it flood the journal: one line per peer per period, and
// the next line says how many were left out. Pure: the shell passes the time.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

namespace mailtun::forwarder {

class WarningLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit WarningLimiter(std::chrono::nanoseconds period = std::chrono::minutes(1)) : period_(period) {}

  /// Whether to log a warning about `key` (a peer's index: keys must come from a bounded set) at
  /// `now`: nullopt to stay quiet, else how many warnings about it were left out since the last
  /// one logged. Time going backwards is treated as no time passing.
  std::optional<std::uint64_t> allow(std::size_t key, TimePoint now);

 private:
  struct Entry {
    TimePoint last_logged;
    std::uint64_t suppressed = 0;
  };
  std::chrono::nanoseconds period_;
  std::map<std::size_t, Entry> entries_;
};

}  // namespace mailtun::forwarder
