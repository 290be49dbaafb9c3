#pragma once
// DESIGN §4.4: how long the dialing side waits before its next connection attempt. Exponential
// from 0.5 s, doubling to a 30 s ceiling, each delay jittered by up to ±20 % so that endpoints
// restarted together do not retry in lockstep. Never gives up. Pure: the randomness comes from the
// caller.

#include <chrono>
#include <concepts>
#include <random>

namespace mailtun::tunnel {

struct BackoffLimits {
  std::chrono::milliseconds initial{500};  // the first delay; below 1 ms is taken as 1 ms
  std::chrono::milliseconds max{30'000};   // the ceiling of the doubling; below `initial` is taken as `initial`
  double jitter = 0.2;                     // ± fraction of each delay; clamped to [0, 0.5]
};

class Backoff {
 public:
  explicit Backoff(const BackoffLimits& limits = {});

  /// The delay before the next attempt: 0.5 s, 1 s, 2 s, … doubling up to 30 s and staying there,
  /// each scaled by 1 + jitter × (2 × unit_random − 1), so the 30 s ceiling itself varies by
  /// ±20 % (24–36 s). `unit_random` should be uniform in [0, 1); values outside [0, 1] are
  /// clamped, NaN is taken as 0.5 (no jitter).
  std::chrono::milliseconds next_delay(double unit_random);

  /// next_delay with a random value drawn from `rng`.
  template <std::uniform_random_bit_generator Rng>
  std::chrono::milliseconds next_delay(Rng& rng) {
    return next_delay(std::generate_canonical<double, 53>(rng));
  }

  /// Back to the first delay. Call it once a connection has completed its handshake, not on TCP
  /// connect alone, so that an endpoint that accepts and then closes is still backed off.
  void reset();

  /// The delay next_delay would scale, before jitter.
  [[nodiscard]] std::chrono::milliseconds base() const { return base_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  double jitter_;
  std::chrono::milliseconds base_;
};

}  // namespace mailtun::tunnel
