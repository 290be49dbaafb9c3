#include "keys/base64.hpp"

#include <sodium.h>

#include <array>
#include <cstdio>
#include <optional>
#include <string>

namespace mailtun::keys {

namespace {

// What `wg` and a line read from a file or pipe may carry around a key.
constexpr std::string_view surrounding_whitespace = " \t\r\n\v\f";

// How each parser's messages begin; what was found follows after a comma.
constexpr std::string_view any_key_expectation = "expected 44 base64 characters encoding 32 bytes";
constexpr std::string_view private_key_expectation =
    "expected a base64 private key of 44 characters (as printed by `mailtun genkey`)";
constexpr std::string_view public_key_expectation =
    "expected a base64 public key of 44 characters (as printed by `mailtun pubkey`)";
constexpr std::string_view preshared_key_expectation =
    "expected a base64 preshared key of 44 characters (as printed by `mailtun genpsk`)";

// sodium_bin2base64 writes a terminating NUL after the 44 characters.
static_assert(sodium_base64_ENCODED_LEN(key_size, sodium_base64_VARIANT_ORIGINAL) ==
              base64_key_length + 1);

bool is_base64_alphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Names a character for a message. The character is not part of the alphabet (the only ones ever
// described), so printing it discloses nothing of a key.
std::string describe(char c) {
  switch (c) {
    case ' ':
      return "a space";
    case '\t':
      return "a tab";
    case '\n':
      return "a line break";
    case '\r':
      return "a carriage return";
    default:
      break;
  }
  const auto byte = static_cast<unsigned char>(c);
  if (byte > 0x20 && byte < 0x7f) return std::string{'\'', c, '\''};
  std::array<char, 16> hex{};
  std::snprintf(hex.data(), hex.size(), "byte 0x%02x", byte);
  return hex.data();
}

// The key's characters with surrounding whitespace removed, or what was found instead of them
// ("got …"). Positions in messages are 1-based and count from the start of the caller's text.
tl::expected<std::string_view, std::string> key_characters(std::string_view text) {
  const auto first = text.find_first_not_of(surrounding_whitespace);
  if (first == std::string_view::npos) {
    return tl::make_unexpected(text.empty() ? "got nothing" : "got only whitespace");
  }
  const auto last = text.find_last_not_of(surrounding_whitespace);
  const auto key = text.substr(first, last - first + 1);
  const auto position = [&](std::size_t i) { return std::to_string(first + i + 1); };

  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (surrounding_whitespace.find(c) != std::string_view::npos) {
      return tl::make_unexpected("got " + describe(c) + " at position " + position(i) +
                                 " (a key is one unbroken line)");
    }
    if (c == '-' || c == '_') {
      return tl::make_unexpected("got " + describe(c) + " at position " + position(i) +
                                 " (base64url is not accepted; the alphabet is A-Z a-z 0-9 + /)");
    }
    if (!is_base64_alphabet(c) && c != '=') {
      return tl::make_unexpected("got " + describe(c) + " at position " + position(i) +
                                 ", which is not a base64 character");
    }
  }

  const auto padding = key.find('=');
  if (key.size() != base64_key_length) {
    std::string found = "got " + std::to_string(key.size()) + " characters";
    if (key.size() > base64_key_length && padding == base64_key_length - 1) {
      found += " (text follows the '=' that ends a key)";
    }
    return tl::make_unexpected(std::move(found));
  }
  if (padding == std::string_view::npos) {
    return tl::make_unexpected("got 44 characters without the final '='");
  }
  if (padding != base64_key_length - 1) {
    return tl::make_unexpected("got '=' at position " + position(padding) +
                               ", but only the last character may be '='");
  }
  return key;
}

// Decodes the 44 checked characters straight into `out`, which is the caller's guarded memory for
// secrets. Everything but canonical encoding has been checked already; libsodium checks that too.
std::optional<std::string> decode_into(std::string_view key,
                                       std::span<std::uint8_t, key_size> out) {
  std::size_t decoded = 0;
  // b64_end = nullptr makes libsodium itself refuse input it did not consume entirely.
  if (sodium_base642bin(out.data(), out.size(), key.data(), key.size(), nullptr, &decoded, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      decoded != key_size) {
    return "got a non-canonical encoding (the character before '=' has bits set that encode "
           "nothing)";
  }
  return std::nullopt;
}

// A parser's message: what it expected, then what it found.
std::string refusal(std::string_view expectation, const std::string& found) {
  return std::string(expectation) + ", " + found;
}

// The common path of the secret parsers: characters checked, then decoded into guarded memory.
ParseResult<GuardedKey> decode_secret(std::string_view text, std::string_view expectation) {
  auto chars = key_characters(text);
  if (!chars) return tl::make_unexpected(refusal(expectation, chars.error()));
  GuardedKey key;
  std::optional<std::string> problem;
  key.write([&](auto out) { problem = decode_into(*chars, out); });
  if (problem) return tl::make_unexpected(refusal(expectation, *problem));
  return key;
}

}  // namespace

std::string to_base64(KeySpan key) {
  std::string text(base64_key_length + 1, '\0');
  sodium_bin2base64(text.data(), text.size(), key.data(), key.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  text.resize(base64_key_length);  // drops the NUL; shrinking never reallocates
  return text;
}

ParseResult<GuardedKey> decode_base64_key(std::string_view text) {
  return decode_secret(text, any_key_expectation);
}

ParseResult<PrivateKey> parse_private_key(std::string_view text) {
  return decode_secret(text, private_key_expectation).map([](const GuardedKey& raw) {
    return PrivateKey::from_bytes(raw.bytes());
  });
}

ParseResult<PublicKey> parse_public_key(std::string_view text) {
  // Not secret: plain memory will do.
  auto chars = key_characters(text);
  if (!chars) return tl::make_unexpected(refusal(public_key_expectation, chars.error()));
  std::array<std::uint8_t, key_size> bytes{};
  if (auto problem = decode_into(*chars, bytes)) {
    return tl::make_unexpected(refusal(public_key_expectation, *problem));
  }
  return PublicKey(bytes);
}

ParseResult<PresharedKey> parse_preshared_key(std::string_view text) {
  return decode_secret(text, preshared_key_expectation).map([](const GuardedKey& raw) {
    return PresharedKey::from_bytes(raw.bytes());
  });
}

}  // namespace mailtun::keys
