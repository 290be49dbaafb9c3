#include "forwarder/warning_limiter.hpp"

namespace mailtun::forwarder {

std::optional<std::uint64_t> WarningLimiter::allow(std::size_t key, TimePoint now) {
  const auto [it, first] = entries_.try_emplace(key, Entry{now, 0});
  if (first) return 0;
  Entry& entry = it->second;
  if (now < entry.last_logged + period_) {
    ++entry.suppressed;
    return std::nullopt;
  }
  const std::uint64_t left_out = entry.suppressed;
  entry = Entry{now, 0};
  return left_out;
}

}  // namespace mailtun::forwarder
