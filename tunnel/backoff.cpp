#include "tunnel/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace mailtun::tunnel {

Backoff::Backoff(const BackoffLimits& limits)
    : initial_(std::max(limits.initial, std::chrono::milliseconds(1))),
      max_(std::max(limits.max, initial_)),
      // Beyond ±50 % the "jitter" would dominate the schedule; NaN fails both comparisons → 0.
      jitter_(limits.jitter > 0 ? std::min(limits.jitter, 0.5) : 0.0),
      base_(initial_) {}

std::chrono::milliseconds Backoff::next_delay(double unit_random) {
  const double u = std::isnan(unit_random) ? 0.5 : std::clamp(unit_random, 0.0, 1.0);
  const double scale = 1.0 + jitter_ * (2.0 * u - 1.0);
  const double ms = static_cast<double>(base_.count()) * scale;
  // A ceiling near the top of the range would overflow llround once jittered upwards.
  constexpr double representable = 9.0e18;
  const auto delay = ms < representable ? std::chrono::milliseconds(std::llround(ms)) : std::chrono::milliseconds::max();
  // Halve the ceiling before comparing so the doubling itself cannot overflow.
  base_ = base_ > max_ / 2 ? max_ : base_ * 2;
  return delay;
}

void Backoff::reset() { base_ = initial_; }

}  // namespace mailtun::tunnel
