#include "keys/base64.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace mailtun::keys {
namespace {

using Bytes = std::array<std::uint8_t, key_size>;

// Both checked against coreutils: `head -c32 /dev/zero | base64` and the same with every byte 0xff.
constexpr std::string_view zeros_base64 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
constexpr std::string_view ones_base64 = "//////////////////////////////////////////8=";

constexpr std::string_view any_expectation = "expected 44 base64 characters encoding 32 bytes, ";
constexpr std::string_view private_expectation =
    "expected a base64 private key of 44 characters (as printed by `mailtun genkey`), ";

Bytes filled(std::uint8_t value) {
  Bytes bytes{};
  bytes.fill(value);
  return bytes;
}

Bytes random_bytes() {
  Bytes bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  return bytes;
}

bool equal(KeySpan a, KeySpan b) { return std::equal(a.begin(), a.end(), b.begin()); }

// The message for `text`, which the test expects to be refused.
std::string refusal(std::string_view text) {
  auto decoded = decode_base64_key(text);
  EXPECT_FALSE(decoded.has_value()) << "accepted: " << text;
  return decoded ? std::string() : decoded.error();
}

TEST(Base64, EncodesKnownValuesAsWgDoes) {
  EXPECT_EQ(to_base64(filled(0x00)), zeros_base64);
  EXPECT_EQ(to_base64(filled(0xff)), ones_base64);
}

TEST(Base64, EncodingIs43AlphabetCharactersAndOnePad) {
  for (int i = 0; i < 100; ++i) {
    const std::string text = to_base64(random_bytes());
    ASSERT_EQ(text.size(), base64_key_length);
    EXPECT_EQ(text.back(), '=');
    EXPECT_TRUE(std::all_of(text.begin(), text.end() - 1, [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/';
    })) << text;
  }
}

TEST(Base64, RoundTripsRandomKeys) {
  for (int i = 0; i < 200; ++i) {
    const Bytes bytes = random_bytes();
    const std::string text = to_base64(bytes);
    auto guarded = decode_base64_key(text);
    ASSERT_TRUE(guarded) << guarded.error();
    EXPECT_TRUE(equal(guarded->bytes(), bytes));
    auto pub = parse_public_key(text);
    ASSERT_TRUE(pub) << pub.error();
    EXPECT_TRUE(equal(pub->bytes(), bytes));
    auto psk = parse_preshared_key(text);
    ASSERT_TRUE(psk) << psk.error();
    EXPECT_TRUE(equal(psk->bytes(), bytes));
  }
}

TEST(Base64, RoundTripsGeneratedPrivateKeys) {
  for (int i = 0; i < 20; ++i) {
    const PrivateKey key = PrivateKey::generate();
    auto parsed = parse_private_key(to_base64(key.bytes()));
    ASSERT_TRUE(parsed) << parsed.error();
    EXPECT_TRUE(equal(parsed->bytes(), key.bytes()));
    EXPECT_EQ(parsed->public_key(), key.public_key());
  }
}

TEST(Base64, PrivateKeyIsClampedButPresharedKeyIsNot) {
  auto priv = parse_private_key(ones_base64);
  ASSERT_TRUE(priv) << priv.error();
  EXPECT_EQ(priv->bytes()[0], 0xf8);
  EXPECT_EQ(priv->bytes()[31], 0x7f);
  auto psk = parse_preshared_key(ones_base64);
  ASSERT_TRUE(psk) << psk.error();
  EXPECT_TRUE(equal(psk->bytes(), filled(0xff)));
}

TEST(Base64, AllZeroPresharedKeyMeansNoneAndIsAccepted) {
  auto psk = parse_preshared_key(zeros_base64);
  ASSERT_TRUE(psk) << psk.error();
  EXPECT_TRUE(equal(psk->bytes(), PresharedKey().bytes()));
}

TEST(Base64, AcceptsSurroundingWhitespaceOfALine) {
  const std::string key(ones_base64);
  for (const std::string& text :
       {key + "\n", key + "\r\n", "  " + key + " \t\n", "\t" + key, key + "\n\n"}) {
    auto decoded = decode_base64_key(text);
    ASSERT_TRUE(decoded) << decoded.error();
    EXPECT_TRUE(equal(decoded->bytes(), filled(0xff)));
  }
}

// Found by the keys fuzzer: the parser strips vertical tab and form feed too, so a key file
// written by a tool that pads with them still parses, to the same key.
TEST(Base64, AcceptsVerticalTabAndFormFeedAroundAKey) {
  const std::string key(ones_base64);
  for (const std::string& text : {"\v" + key, key + "\f", "\f\v " + key + "\n\v"}) {
    auto decoded = decode_base64_key(text);
    ASSERT_TRUE(decoded) << decoded.error();
    EXPECT_TRUE(equal(decoded->bytes(), filled(0xff)));
  }
}

TEST(Base64, RefusesEmptyInput) {
  EXPECT_EQ(refusal(""), std::string(any_expectation) + "got nothing");
  EXPECT_EQ(refusal(" \n"), std::string(any_expectation) + "got only whitespace");
}

TEST(Base64, RefusesWrongLength) {
  const std::string key(ones_base64);
  EXPECT_EQ(refusal(key.substr(0, 43)), std::string(any_expectation) + "got 43 characters");
  EXPECT_EQ(refusal(key.substr(1)), std::string(any_expectation) + "got 43 characters");
  EXPECT_EQ(refusal("A" + key), std::string(any_expectation) + "got 45 characters");
  EXPECT_EQ(refusal(key + key), std::string(any_expectation) +
                                    "got 88 characters (text follows the '=' that ends a key)");
  EXPECT_EQ(refusal(key + "junk"), std::string(any_expectation) +
                                       "got 48 characters (text follows the '=' that ends a key)");
  // 33 bytes' worth, as an unrelated base64 blob might be.
  EXPECT_EQ(refusal(std::string(48, 'A')), std::string(any_expectation) + "got 48 characters");
}

TEST(Base64, RefusesWhitespaceInside) {
  const std::string key(ones_base64);
  EXPECT_EQ(
      refusal(key.substr(0, 20) + " " + key.substr(20)),
      std::string(any_expectation) + "got a space at position 21 (a key is one unbroken line)");
  EXPECT_EQ(refusal(key.substr(0, 20) + "\t" + key.substr(20)),
            std::string(any_expectation) + "got a tab at position 21 (a key is one unbroken line)");
  // Two keys on two lines: the second line is not ignored.
  EXPECT_EQ(refusal(key + "\n" + key + "\n"),
            std::string(any_expectation) +
                "got a line break at position 45 (a key is one unbroken line)");
}

TEST(Base64, RefusesCharactersOutsideTheAlphabet) {
  std::string key(ones_base64);
  key[4] = '!';
  EXPECT_EQ(refusal(key), std::string(any_expectation) +
                              "got '!' at position 5, which is not a base64 character");
  key[4] = '-';
  EXPECT_EQ(refusal(key), std::string(any_expectation) +
                              "got '-' at position 5 (base64url is not accepted; the alphabet is "
                              "A-Z a-z 0-9 + /)");
  key[4] = '_';
  EXPECT_NE(refusal(key).find("base64url"), std::string::npos);
  key[4] = '\0';
  EXPECT_EQ(refusal(key), std::string(any_expectation) +
                              "got byte 0x00 at position 5, which is not a base64 character");
  key[4] = '\xc3';
  EXPECT_EQ(refusal(key), std::string(any_expectation) +
                              "got byte 0xc3 at position 5, which is not a base64 character");
}

TEST(Base64, PositionsCountFromTheStartOfTheGivenText) {
  std::string key(ones_base64);
  key[4] = '!';
  EXPECT_NE(refusal("  " + key).find("at position 7"), std::string::npos);
}

TEST(Base64, RefusesMissingOrMisplacedPadding) {
  std::string no_pad(ones_base64);
  no_pad.back() = 'A';
  EXPECT_EQ(refusal(no_pad),
            std::string(any_expectation) + "got 44 characters without the final '='");
  // "==" at the end encodes 31 bytes.
  std::string two_pads = std::string(ones_base64.substr(0, 42)) + "==";
  EXPECT_EQ(refusal(two_pads),
            std::string(any_expectation) +
                "got '=' at position 43, but only the last character may be '='");
  std::string early_pad(ones_base64);
  early_pad[10] = '=';
  EXPECT_NE(refusal(early_pad).find("got '=' at position 11"), std::string::npos);
}

TEST(Base64, RefusesNonCanonicalEncoding) {
  // 'B' (value 1) before '=' sets one of the two bits that encode nothing; `wg` refuses it too.
  std::string text(zeros_base64);
  text[42] = 'B';
  EXPECT_EQ(refusal(text), std::string(any_expectation) +
                               "got a non-canonical encoding (the character before '=' has bits "
                               "set that encode nothing)");
}

TEST(Base64, MessagesNameTheKindOfKey) {
  auto priv = parse_private_key("abc");
  ASSERT_FALSE(priv);
  EXPECT_EQ(priv.error(), std::string(private_expectation) + "got 3 characters");
  auto pub = parse_public_key("abc");
  ASSERT_FALSE(pub);
  EXPECT_EQ(pub.error(),
            "expected a base64 public key of 44 characters (as printed by `mailtun pubkey`), got 3 "
            "characters");
  auto psk = parse_preshared_key("abc");
  ASSERT_FALSE(psk);
  EXPECT_EQ(
      psk.error(),
      "expected a base64 preshared key of 44 characters (as printed by `mailtun genpsk`), got "
      "3 characters");
}

TEST(Base64, MessagesNeverQuoteTheInput) {
  const std::string key = to_base64(PrivateKey::generate().bytes());
  for (const std::string& text :
       {key.substr(0, 43), key + "x", key.substr(0, 30) + " " + key.substr(30)}) {
    auto parsed = parse_private_key(text);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().find(key.substr(0, 8)), std::string::npos) << parsed.error();
  }
}

TEST(Base64, NeverThrowsOnArbitraryInput) {
  std::mt19937 random(20240601);  // fixed seed: a failure reproduces
  constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=  \t\n\r-_!\x01\xff";
  for (int i = 0; i < 5000; ++i) {
    std::string text(std::uniform_int_distribution<std::size_t>(0, 60)(random), '\0');
    for (char& c : text) {
      c = alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(random)];
    }
    EXPECT_NO_THROW({
      auto a = decode_base64_key(text);
      auto b = parse_private_key(text);
      auto c = parse_public_key(text);
      auto d = parse_preshared_key(text);
      // Whatever the verdict, the four agree on it.
      EXPECT_EQ(a.has_value(), b.has_value());
      EXPECT_EQ(a.has_value(), c.has_value());
      EXPECT_EQ(a.has_value(), d.has_value());
      if (!a) {
        EXPECT_EQ(a.error().rfind("expected ", 0), 0U);
      }
    });
  }
}

}  // namespace
}  // namespace mailtun::keys
