#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailtun::cli {

/// The names --log-level accepts: every name the log lines print ("warning", "error", …) and
/// spdlog's short forms ("warn", "err").
[[nodiscard]] std::optional<std::string> normalise_log_level(std::string_view name);

/// True when standard error is connected to the journal: JOURNAL_STREAM (set by systemd for a
/// service whose output goes to the journal) names the device and inode of file descriptor 2.
/// A child that inherited the variable but writes elsewhere does not match.
[[nodiscard]] bool stderr_is_journal();

/// Logs to the journal with each line's priority when stderr is the journal (so that
/// `journalctl -p warning` finds warnings); otherwise to stderr with timestamps. `level` is one of
/// the names normalise_log_level() accepts.
void setup_logging(const std::string& level);

}  // namespace mailtun::cli
