#pragma once
// A peer that stays down is reported again at warning, at growing intervals, so an operator who
// looks at the journal an hour later still finds it, and a peer down for a week does not flood it.

#include <chrono>
#include <cstddef>
#include <string>

namespace mailtun::cli {

/// How long after the peer went down report number `reports_made` + 1 is due: 1, 5, 15 and
/// 60 minutes, then every hour (120, 180, …).
[[nodiscard]] std::chrono::minutes down_report_due(std::size_t reports_made);

/// "1 minute", "15 minutes", "2 hours", "1 hour 30 minutes": for log lines.
[[nodiscard]] std::string describe_duration(std::chrono::seconds duration);

}  // namespace mailtun::cli
