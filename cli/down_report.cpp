#include "cli/down_report.hpp"

#include <array>

namespace mailtun::cli {

std::chrono::minutes down_report_due(std::size_t reports_made) {
  static constexpr std::array<int, 4> first = {1, 5, 15, 60};
  if (reports_made < first.size()) return std::chrono::minutes(first[reports_made]);
  return std::chrono::hours(reports_made - first.size() + 2);
}

namespace {

std::string count(long long n, const char* unit) {
  return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

}  // namespace

std::string describe_duration(std::chrono::seconds duration) {
  const long long total = duration.count() < 0 ? 0 : duration.count();
  const long long hours = total / 3600;
  const long long minutes = total % 3600 / 60;
  const long long seconds = total % 60;
  if (hours > 0) return count(hours, "hour") + (minutes > 0 ? " " + count(minutes, "minute") : "");
  if (minutes > 0) return count(minutes, "minute");
  return count(seconds, "second");
}

}  // namespace mailtun::cli
