#include "cli/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace mailtun::cli {

std::optional<std::string> normalise_log_level(std::string_view name) {
  // What spdlog prints for each level, and the short forms people type.
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> names{{
      {"trace", "trace"}, {"debug", "debug"}, {"info", "info"}, {"warning", "warning"}, {"warn", "warning"},
      {"error", "error"}, {"err", "error"}, {"critical", "critical"}, {"crit", "critical"}, {"off", "off"},
  }};
  for (const auto& [alias, canonical] : names) {
    if (name == alias) return std::string(canonical);
  }
  return std::nullopt;
}

bool stderr_is_journal() {
  const char* value = std::getenv("JOURNAL_STREAM");
  if (value == nullptr) return false;
  unsigned long long device = 0;
  unsigned long long inode = 0;
  if (std::sscanf(value, "%llu:%llu", &device, &inode) != 2) return false;
  struct stat status {};
  if (::fstat(2, &status) != 0) return false;
  return status.st_dev == device && status.st_ino == inode;
}

void setup_logging(const std::string& level) {
  std::shared_ptr<spdlog::logger> logger;
  if (stderr_is_journal()) {
    // The journal keeps the time, the unit and the priority of each line itself.
    logger = std::make_shared<spdlog::logger>("mailtun", std::make_shared<spdlog::sinks::systemd_sink_st>("mailtun"));
  } else {
    logger = spdlog::stderr_logger_st("mailtun");
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %l: %v");
  }
  logger->set_level(spdlog::level::from_str(normalise_log_level(level).value_or("info")));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace mailtun::cli
