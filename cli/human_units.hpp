#pragma once
// Quantities as `mailtun status` shows them to people, in the units of `wg show`.

#include <cstdint>
#include <optional>
#include <string>

namespace mailtun::cli {

/// "512 B", "1.23 KiB", "4.00 GiB": binary units, two decimals from KiB up.
[[nodiscard]] std::string format_bytes(std::uint64_t bytes);

/// The two largest non-zero units of whole seconds: "1 minute, 5 seconds", "3 days, 2 hours",
/// "0 seconds" under one second. Negative or non-finite input counts as zero.
[[nodiscard]] std::string format_duration(double seconds);

/// "1 minute, 5 seconds ago", or "never" without a value.
[[nodiscard]] std::string format_age(std::optional<double> seconds);

/// "0.4 ms": milliseconds with one decimal.
[[nodiscard]] std::string format_milliseconds(double milliseconds);

}  // namespace mailtun::cli
