#include "tunnel/tai64n.hpp"

#include <algorithm>

namespace mailtun::tunnel {
namespace {

// TAI64 labels start at 2^62; TAI ran 10 s ahead of UTC in 1972 (WireGuard's base, no leap table).
constexpr std::uint64_t tai64_base = (std::uint64_t{1} << 62) + 10;
constexpr std::uint32_t whitener_mask = (1U << 24) - 1;

}  // namespace

Tai64n Tai64n::from_system_time(std::chrono::system_clock::time_point t) {
  const auto since_epoch = t.time_since_epoch();
  auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds).count();
  const std::uint64_t label = tai64_base + static_cast<std::uint64_t>(seconds.count());
  const std::uint32_t whitened = static_cast<std::uint32_t>(nanos) & ~whitener_mask;

  Tai64n out;
  for (int i = 0; i < 8; ++i) out.bytes_[i] = static_cast<std::uint8_t>(label >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) out.bytes_[8 + i] = static_cast<std::uint8_t>(whitened >> (24 - 8 * i));
  return out;
}

Tai64n Tai64n::from_bytes(std::span<const std::uint8_t, size> bytes) {
  Tai64n out;
  std::ranges::copy(bytes, out.bytes_.begin());
  return out;
}

}  // namespace mailtun::tunnel
