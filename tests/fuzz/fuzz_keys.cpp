// Fuzz target: base64 key parsing (DESIGN §3). Any text that parses is the canonical encoding of
// the key, give or take surrounding whitespace.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "keys/base64.hpp"

using namespace mailtun::keys;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

// The same whitespace the parser strips (keys/base64.cpp): vertical tab and form feed included.
constexpr std::string_view whitespace = " \t\r\n\v\f";

std::string_view trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(whitespace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(whitespace) - first + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto raw = decode_base64_key(text);
  if (raw) require(to_base64(raw->bytes()) == trimmed(text));
  auto pub = parse_public_key(text);
  require(pub.has_value() == raw.has_value());
  auto psk = parse_preshared_key(text);
  require(psk.has_value() == raw.has_value());
  auto priv = parse_private_key(text);
  require(priv.has_value() == raw.has_value());
  if (!raw) require(!raw.error().empty() && !priv.error().empty());
  return 0;
}
