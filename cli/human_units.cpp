#include "cli/human_units.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <string_view>

namespace mailtun::cli {

std::string format_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  constexpr std::array<std::string_view, 6> units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  // Round first, so that 1023.999 KiB reads "1.00 MiB" rather than "1024.00 KiB".
  while (unit + 1 < units.size() && std::round(value * 100) / 100 >= 1024) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.2f} {}", value, units[unit]);
}

std::string format_duration(double seconds) {
  struct Unit {
    std::uint64_t seconds;
    std::string_view name;
  };
  constexpr std::array<Unit, 5> units = {
      {{365 * 86400, "year"}, {86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}}};
  std::uint64_t left = std::isfinite(seconds) && seconds > 0 ? static_cast<std::uint64_t>(seconds) : 0;
  if (left == 0) return "0 seconds";
  std::string text;
  int shown = 0;
  for (const Unit& unit : units) {
    const std::uint64_t count = left / unit.seconds;
    left %= unit.seconds;
    if (count == 0) {
      if (shown > 0) break;  // "1 hour, 5 seconds" would skip a unit and read as more precise than it is
      continue;
    }
    text += fmt::format("{}{} {}{}", shown > 0 ? ", " : "", count, unit.name, count == 1 ? "" : "s");
    if (++shown == 2) break;
  }
  return text;
}

std::string format_age(std::optional<double> seconds) { return seconds ? format_duration(*seconds) + " ago" : "never"; }

std::string format_milliseconds(double milliseconds) { return fmt::format("{:.1f} ms", milliseconds); }

}  // namespace mailtun::cli
