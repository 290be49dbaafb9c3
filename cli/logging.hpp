#pragma once

#include <string>

namespace mailtun::cli {

/// Logs to stderr. Under systemd (JOURNAL_STREAM set) without timestamps, which the journal adds.
void setup_logging(const std::string& level);

}  // namespace mailtun::cli
