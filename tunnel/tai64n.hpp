#pragma once
// TAI64N timestamps (DESIGN §4.1 message 1 payload), as WireGuard uses them: 8 bytes big-endian
// seconds label (2^62 + 10 + Unix seconds) ‖ 4 bytes big-endian nanoseconds. The responder accepts a
// peer's message 1 only if its timestamp is greater than the last one it accepted from that peer.

#include <array>
#include <chrono>
#include <compare>
#include <cstdint>
#include <span>

namespace mailtun::tunnel {

class Tai64n {
 public:
  static constexpr std::size_t size = 12;

  /// The timestamp for a wall-clock time, its nanoseconds rounded down to a multiple of 2^24
  /// (about 16.8 ms) so that message 1 does not reveal the sender's precise clock, as WireGuard does.
  static Tai64n from_system_time(std::chrono::system_clock::time_point t);
  static Tai64n from_bytes(std::span<const std::uint8_t, size> bytes);

  [[nodiscard]] const std::array<std::uint8_t, size>& bytes() const { return bytes_; }
  /// Big-endian fields make byte order equal to time order.
  friend auto operator<=>(const Tai64n&, const Tai64n&) = default;

 private:
  std::array<std::uint8_t, size> bytes_{};
};

}  // namespace mailtun::tunnel
