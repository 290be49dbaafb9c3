#pragma once
// Hex text <-> bytes for tests and the vector runner (test vectors are written in hex).

#include <sodium.h>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace mailtun::testing {

/// Throws std::invalid_argument for anything but an even number of hex digits.
inline std::vector<std::uint8_t> unhex(const std::string& text) {
  // An empty vector's data() is null, which sodium_hex2bin declares it never is.
  if (text.empty()) return {};
  std::vector<std::uint8_t> out(text.size() / 2);
  std::size_t len = 0;
  if (text.size() % 2 != 0 ||
      sodium_hex2bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, nullptr) != 0 ||
      len != out.size()) {
    throw std::invalid_argument("malformed hex: " + text.substr(0, 16));
  }
  return out;
}

inline std::string hex(std::span<const std::uint8_t> bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
  out.pop_back();
  return out;
}

}  // namespace mailtun::testing
