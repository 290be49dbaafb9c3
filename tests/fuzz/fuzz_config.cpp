// Fuzz target: the configuration loader (DESIGN §7) on arbitrary TOML. Anything wrong is a
// ConfigError with at least one message; nothing else escapes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cli/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    // Key files named relative to a directory that does not exist: none is ever read.
    (void)mailtun::cli::parse_config(text, "/nonexistent/mailtun-fuzz/mailtun.conf");
  } catch (const mailtun::cli::ConfigError& error) {
    if (error.errors().empty()) std::abort();
  }
  return 0;
}
