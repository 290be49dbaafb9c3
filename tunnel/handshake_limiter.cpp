#include "tunnel/handshake_limiter.hpp"

#include <algorithm>

namespace mailtun::tunnel {

SourceKey SourceKey::ipv4(const std::array<std::uint8_t, 4>& address) {
  SourceKey key;
  key.family_ = 4;
  std::copy(address.begin(), address.end(), key.bits_.begin());
  return key;
}

SourceKey SourceKey::ipv6(const std::array<std::uint8_t, 16>& address) {
  constexpr std::array<std::uint8_t, 12> mapped_prefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(mapped_prefix.begin(), mapped_prefix.end(), address.begin())) {
    return ipv4({address[12], address[13], address[14], address[15]});
  }
  SourceKey key;
  key.family_ = 6;
  std::copy(address.begin(), address.begin() + 8, key.bits_.begin());
  return key;
}

HandshakeLimiter::HandshakeLimiter(const HandshakeLimits& limits)
    : cost_(limits.period / std::max<std::uint32_t>(limits.per_second, 1)),
      capacity_(cost_ * std::max<std::uint32_t>(limits.burst, 1)),
      max_sources_(std::max<std::size_t>(limits.max_sources, 1)) {}

std::chrono::nanoseconds HandshakeLimiter::refilled(const Bucket& bucket, TimePoint now) const {
  const auto elapsed = std::max(now - bucket.last, TimePoint::duration::zero());
  // Compare before adding: a bucket idle for years must not overflow.
  if (elapsed >= capacity_ - bucket.credit) return capacity_;
  return bucket.credit + elapsed;
}

bool HandshakeLimiter::forget_full_buckets(TimePoint now) {
  const std::size_t before = buckets_.size();
  auto earliest_full = TimePoint::max();
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const Bucket& bucket = it->second;
    if (refilled(bucket, now) == capacity_) {
      it = buckets_.erase(it);
      continue;
    }
    earliest_full = std::min(earliest_full, bucket.last + (capacity_ - bucket.credit));
    ++it;
  }
  // Charging a bucket only pushes its full time later, so this stays a lower bound.
  no_full_bucket_before_ = earliest_full;
  return buckets_.size() < before;
}

void HandshakeLimiter::forget_fullest_bucket(TimePoint now) {
  const auto fullest = std::ranges::max_element(
      buckets_, {}, [&](const auto& entry) { return refilled(entry.second, now); });
  if (fullest != buckets_.end()) buckets_.erase(fullest);
}

bool HandshakeLimiter::allow(const SourceKey& source, TimePoint now, bool proven) {
  auto it = buckets_.find(source);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_sources_ && (now < no_full_bucket_before_ || !forget_full_buckets(now))) {
      if (!proven) return false;
      forget_fullest_bucket(now);
    }
    // A new source starts with a full bucket, less this handshake.
    buckets_.emplace(source, Bucket{capacity_ - cost_, now});
    no_full_bucket_before_ = std::min(no_full_bucket_before_, now + cost_);
    return true;
  }

  Bucket& bucket = it->second;
  const auto credit = refilled(bucket, now);
  bucket.last = std::max(bucket.last, now);
  if (credit < cost_) {
    bucket.credit = credit;
    return false;
  }
  bucket.credit = credit - cost_;
  return true;
}

}  // namespace mailtun::tunnel
