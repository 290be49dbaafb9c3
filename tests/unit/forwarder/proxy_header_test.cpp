#include "forwarder/proxy_header.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace mailtun::forwarder {
namespace {

using tunnel::Address;

Address v4(std::array<std::uint8_t, 4> b, std::uint16_t port) {
  Address a;
  a.family = 4;
  std::copy(b.begin(), b.end(), a.bytes.begin());
  a.port = port;
  return a;
}

Address v6(const std::array<std::uint8_t, 16>& b, std::uint16_t port) {
  return Address{.family = 6, .bytes = b, .port = port};
}

// Parses IPv6 text with inet_pton, so the tests state addresses the way people write them.
Address v6(const char* text, std::uint16_t port) {
  std::array<std::uint8_t, 16> b{};
  EXPECT_EQ(inet_pton(AF_INET6, text, b.data()), 1) << text;
  return v6(b, port);
}

std::string text(const std::vector<std::uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }

std::vector<std::uint8_t> bytes(std::initializer_list<int> list) {
  std::vector<std::uint8_t> out;
  for (int b : list) out.push_back(static_cast<std::uint8_t>(b));
  return out;
}

// The TCP6 line's address field for one address: the source of a header whose destination is ::1.
std::string v6_text(const Address& a) {
  const std::string line = text(proxy_header_v1(a, v6("::1", 2)));
  const std::string prefix = "PROXY TCP6 ";
  EXPECT_EQ(line.substr(0, prefix.size()), prefix);
  return line.substr(prefix.size(), line.find(' ', prefix.size()) - prefix.size());
}

// --- v1 ----------------------------------------------------------------------------------------

TEST(ProxyHeaderV1, MatchesTheSpecExample) {
  // proxy-protocol.txt §2.1: "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
  EXPECT_EQ(text(proxy_header_v1(v4({192, 168, 0, 1}, 56324), v4({192, 168, 0, 11}, 443))),
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
}

TEST(ProxyHeaderV1, WritesIpv4WithoutLeadingZeroesAndPortsInDecimal) {
  EXPECT_EQ(text(proxy_header_v1(v4({1, 2, 3, 4}, 1234), v4({5, 6, 7, 8}, 25))),
            "PROXY TCP4 1.2.3.4 5.6.7.8 1234 25\r\n");
  EXPECT_EQ(text(proxy_header_v1(v4({0, 10, 100, 255}, 0), v4({255, 255, 255, 255}, 65535))),
            "PROXY TCP4 0.10.100.255 255.255.255.255 0 65535\r\n");
}

TEST(ProxyHeaderV1, IgnoresBytesBeyondTheFourOfAnIpv4Address) {
  Address src = v4({10, 0, 0, 1}, 40000);
  src.bytes[4] = 0xaa;
  src.bytes[15] = 0xbb;
  EXPECT_EQ(text(proxy_header_v1(src, v4({10, 0, 0, 2}, 24))), "PROXY TCP4 10.0.0.1 10.0.0.2 40000 24\r\n");
}

TEST(ProxyHeaderV1, WritesIpv6AsTcp6InCanonicalForm) {
  EXPECT_EQ(text(proxy_header_v1(v6("2001:DB8:0:0:0:0:0:1", 51234), v6("2001:db8::25", 587))),
            "PROXY TCP6 2001:db8::1 2001:db8::25 51234 587\r\n");
}

TEST(ProxyHeaderV1, SendsAnIpv4MappedClientAsTcp4) {
  // A dual-stack listener sees an IPv4 client as ::ffff:a.b.c.d on both ends.
  EXPECT_EQ(text(proxy_header_v1(v6("::ffff:203.0.113.9", 41000), v6("::ffff:127.0.0.1", 143))),
            "PROXY TCP4 203.0.113.9 127.0.0.1 41000 143\r\n");
  EXPECT_EQ(text(proxy_header_v1(v6("::ffff:203.0.113.9", 41000), v4({127, 0, 0, 1}, 143))),
            "PROXY TCP4 203.0.113.9 127.0.0.1 41000 143\r\n");
}

TEST(ProxyHeaderV1, KeepsAddressesThatOnlyResembleIpv4MappedAsTcp6) {
  // ::fffe:… and ::1:ffff:… are ordinary IPv6 addresses.
  EXPECT_EQ(text(proxy_header_v1(v6("::fffe:cb00:7109", 1), v6("0:0:0:0:1:ffff:cb00:7109", 2))),
            "PROXY TCP6 ::fffe:cb00:7109 ::1:ffff:cb00:7109 1 2\r\n");
}

TEST(ProxyHeaderV1, SaysUnknownWhenTheAddressesCannotBeDescribed) {
  const Address unknown{};
  const Address ipv4 = v4({192, 0, 2, 1}, 1000);
  const Address ipv6 = v6("2001:db8::1", 1000);
  Address bad_family = ipv4;
  bad_family.family = 5;
  const std::pair<Address, Address> cases[] = {{unknown, unknown}, {unknown, ipv4}, {ipv4, unknown}, {ipv4, ipv6},
                                                {ipv6, ipv4},       {bad_family, ipv4}, {ipv4, bad_family}};
  for (const auto& [src, dst] : cases) {
    EXPECT_EQ(text(proxy_header_v1(src, dst)), "PROXY UNKNOWN\r\n");
    EXPECT_FALSE(proxy_addresses_known(src, dst));
  }
  EXPECT_TRUE(proxy_addresses_known(ipv4, ipv4));
  EXPECT_TRUE(proxy_addresses_known(ipv6, ipv6));
  EXPECT_TRUE(proxy_addresses_known(v6("::ffff:1.2.3.4", 1), ipv4));
}

TEST(ProxyHeaderV1, LongestLineFitsTheSpecLimit) {
  std::array<std::uint8_t, 16> all_ones{};
  all_ones.fill(0xff);
  const std::string line = text(proxy_header_v1(v6(all_ones, 65535), v6(all_ones, 65535)));
  EXPECT_EQ(line,
            "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n");
  EXPECT_EQ(line.size(), 104u);  // §2.1: the longest TCP6 line
}

TEST(ProxyHeaderV1, FormatsIpv6PerRfc5952) {
  const std::pair<const char*, const char*> cases[] = {
      {"::", "::"},
      {"::1", "::1"},
      {"1::", "1::"},
      {"fe80::1:2", "fe80::1:2"},
      {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},      // §4.2.2: one zero group stays
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},         // §4.2.3: first of equal runs
      {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},               // §4.2.3: the longest run
      {"2001:0db8:00a0:0b00:000c:0000:0000:0001", "2001:db8:a0:b00:c::1"},  // §4.1: no leading zeroes
      {"1:0:0:0:0:0:0:0", "1::"},
      {"0:0:0:0:0:0:0:1", "::1"},
      {"0:1:0:1:0:1:0:1", "0:1:0:1:0:1:0:1"},
      {"1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"},
  };
  for (const auto& [in, expected] : cases) EXPECT_EQ(v6_text(v6(in, 1)), expected) << in;
}

TEST(ProxyHeaderV1, NeverEmbedsADottedQuadInTcp6) {
  // inet_ntop writes these as "::1.2.3.4" and "::ffff:0:1.2.3.4"; the PROXY grammar allows only hex groups.
  EXPECT_EQ(v6_text(v6("::1.2.3.4", 1)), "::102:304");
  EXPECT_EQ(v6_text(v6("::ffff:0:1.2.3.4", 1)), "::ffff:0:102:304");
}

TEST(ProxyHeaderV1, AgreesWithInetNtopOnIpv6WithoutEmbeddedIpv4) {
  std::mt19937 rng(20240611);
  for (int n = 0; n < 5000; ++n) {
    std::array<std::uint8_t, 16> b{};
    for (std::size_t g = 0; g < 8; ++g) {
      // Mostly zero groups, so that runs of every length and position come up.
      const std::uint32_t kind = rng() % 4;
      const std::uint32_t value = kind < 2 ? 0 : kind == 2 ? rng() % 16 : rng() % 65536;
      b[2 * g] = static_cast<std::uint8_t>(value >> 8);
      b[2 * g + 1] = static_cast<std::uint8_t>(value);
    }
    // inet_ntop picks a dotted quad when the first 80 bits are zero; those are checked above.
    if (std::all_of(b.begin(), b.begin() + 10, [](std::uint8_t x) { return x == 0; })) continue;
    char expected[INET6_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET6, b.data(), expected, sizeof expected), nullptr);
    ASSERT_EQ(v6_text(v6(b, 1)), expected);
  }
}

// --- v2 ----------------------------------------------------------------------------------------

TEST(ProxyHeaderV2, EncodesTcpOverIpv4ByteForByte) {
  // proxy-protocol.txt §2.2: signature, 0x21 = v2 PROXY, 0x11 = TCP over IPv4, length 12,
  // src addr, dst addr, src port, dst port, all big-endian.
  const auto expected = bytes({0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
                               0x21, 0x11, 0x00, 0x0C,
                               192, 168, 0, 1,     // source
                               192, 168, 0, 11,    // destination
                               0xDC, 0x04,         // 56324
                               0x01, 0xBB});       // 443
  EXPECT_EQ(proxy_header_v2(v4({192, 168, 0, 1}, 56324), v4({192, 168, 0, 11}, 443)), expected);
}

TEST(ProxyHeaderV2, EncodesTcpOverIpv6ByteForByte) {
  // 0x21 = TCP over IPv6, length 36 = 2 × 16 + 2 × 2.
  const auto expected = bytes({0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
                               0x21, 0x21, 0x00, 0x24,
                               0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,     // 2001:db8::1
                               0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x02,  // 2001:db8::102
                               0xC8, 0x22,    // 51234
                               0x03, 0xE1});  // 993
  EXPECT_EQ(proxy_header_v2(v6("2001:db8::1", 51234), v6("2001:db8::102", 993)), expected);
}

TEST(ProxyHeaderV2, SendsAnIpv4MappedClientAsTcpOverIpv4) {
  const auto expected = bytes({0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
                               0x21, 0x11, 0x00, 0x0C,
                               203, 0, 113, 9,
                               127, 0, 0, 1,
                               0xA0, 0x28,    // 41000
                               0x02, 0x4B});  // 587
  EXPECT_EQ(proxy_header_v2(v6("::ffff:203.0.113.9", 41000), v6("::ffff:127.0.0.1", 587)), expected);
}

TEST(ProxyHeaderV2, SendsLocalWithoutAddressesWhenTheyCannotBeDescribed) {
  // §2.2: LOCAL (0x20), AF_UNSPEC/UNSPEC (0x00), length 0: the whole header is 16 bytes.
  const auto expected = bytes({0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
                               0x20, 0x00, 0x00, 0x00});
  EXPECT_EQ(proxy_header_v2(Address{}, Address{}), expected);
  EXPECT_EQ(proxy_header_v2(v4({1, 2, 3, 4}, 1), v6("2001:db8::1", 2)), expected);
  EXPECT_EQ(proxy_header_v2(v4({1, 2, 3, 4}, 1), Address{.family = 9, .port = 2}), expected);
}

// --- The specification's own examples ------------------------------------------------------------
// Test data quoted from HAProxy's doc/proxy-protocol.txt ("The PROXY protocol, Versions 1 & 2",
// revision 2020/03/05), the section named in each test.

// §2.2: the constant 12-byte block every v2 header starts with; its 5th byte is a NUL.
const std::vector<std::uint8_t> kV2Signature =
    bytes({0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A});

// Every header the v2 tests below produce, one per case the encoder distinguishes.
std::vector<std::vector<std::uint8_t>> some_v2_headers() {
  return {proxy_header_v2(v4({192, 168, 0, 1}, 56324), v4({192, 168, 0, 11}, 443)),
          proxy_header_v2(v6("2001:db8::1", 51234), v6("2001:db8::102", 993)),
          proxy_header_v2(v6("::ffff:203.0.113.9", 41000), v4({127, 0, 0, 1}, 143)),
          proxy_header_v2(Address{}, Address{})};
}

TEST(ProxyHeaderSpec, V1LongestTcp4LineIs56Characters) {
  // §2.1: "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n" => ... = 56 chars
  const std::string line = text(proxy_header_v1(v4({255, 255, 255, 255}, 65535), v4({255, 255, 255, 255}, 65535)));
  EXPECT_EQ(line, "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n");
  EXPECT_EQ(line.size(), 56u);
}

TEST(ProxyHeaderSpec, V1UnknownIsTheShortForm15Characters) {
  // §2.1: unknown connection (short form): "PROXY UNKNOWN\r\n" => 5 + 1 + 7 + 2 = 15 chars
  const std::string line = text(proxy_header_v1(Address{}, Address{}));
  EXPECT_EQ(line, "PROXY UNKNOWN\r\n");
  EXPECT_EQ(line.size(), 15u);
}

TEST(ProxyHeaderSpec, V1LinesStartWithProxyAndEndWithOneCrlfWithin107Characters) {
  // §2.1: "PROXY" ( \x50 \x52 \x4F \x58 \x59 ), one space, ..., the CRLF sequence ( \x0D \x0A );
  // a receiver declares the line invalid if the CRLF is not within the first 107 characters.
  std::array<std::uint8_t, 16> all_ones{};
  all_ones.fill(0xff);
  const std::vector<std::uint8_t> lines[] = {
      proxy_header_v1(v4({192, 168, 0, 1}, 56324), v4({192, 168, 0, 11}, 443)),
      proxy_header_v1(v6(all_ones, 65535), v6(all_ones, 65535)),
      proxy_header_v1(Address{}, v4({1, 2, 3, 4}, 5)),
  };
  for (const auto& line : lines) {
    ASSERT_GE(line.size(), 8u);
    EXPECT_EQ(std::vector<std::uint8_t>(line.begin(), line.begin() + 6), bytes({0x50, 0x52, 0x4F, 0x58, 0x59, 0x20}));
    EXPECT_EQ(std::vector<std::uint8_t>(line.end() - 2, line.end()), bytes({0x0D, 0x0A}));
    EXPECT_LE(line.size(), 107u);
    // No other CR or LF: the receiver must not accept a lone one as the end of the line.
    EXPECT_EQ(std::count(line.begin(), line.end(), 0x0D), 1);
    EXPECT_EQ(std::count(line.begin(), line.end(), 0x0A), 1);
  }
}

TEST(ProxyHeaderSpec, V2StartsWithTheSignatureAndVersion2) {
  // §2.2: a receiver recognises v2 by "the 13 first bytes match the protocol signature block
  // followed by the protocol version 2": \x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A\x20
  // (a mask of 0xF0 on the 13th byte: "The highest four bits contains the version").
  for (const auto& header : some_v2_headers()) {
    ASSERT_GE(header.size(), 16u);
    EXPECT_EQ(std::vector<std::uint8_t>(header.begin(), header.begin() + 12), kV2Signature);
    EXPECT_EQ(header[12] & 0xF0, 0x20);
  }
}

TEST(ProxyHeaderSpec, V2CommandFamilyAndLengthBytes) {
  // §2.2: 13th byte \x1 PROXY / \x0 LOCAL in the low nibble; 14th byte \x11 "TCP over IPv4 ...
  // Address length is 2*4 + 2*2 = 12 bytes", \x21 "TCP over IPv6 ... 2*16 + 2*2 = 36 bytes",
  // \x00 UNSPEC "when sending LOCAL commands"; 15th and 16th bytes the address length, network order.
  const auto headers = some_v2_headers();
  // ver_cmd, fam, length (low byte) of each header of some_v2_headers(), in order
  const std::array<std::uint8_t, 3> expected[] = {
      {0x21, 0x11, 12}, {0x21, 0x21, 36}, {0x21, 0x11, 12}, {0x20, 0x00, 0}};
  ASSERT_EQ(headers.size(), std::size(expected));
  for (std::size_t i = 0; i < headers.size(); ++i) {
    EXPECT_EQ(headers[i][12], expected[i][0]) << i;
    EXPECT_EQ(headers[i][13], expected[i][1]) << i;
    EXPECT_EQ(headers[i][14], 0x00) << i;
    EXPECT_EQ(headers[i][15], expected[i][2]) << i;
  }
}

TEST(ProxyHeaderSpec, V2HeaderLengthIsAlways16PlusTheLengthField) {
  // §2.2: "the length of the protocol header in bytes is always exactly 16 + this value."
  for (const auto& header : some_v2_headers()) {
    ASSERT_GE(header.size(), 16u);
    EXPECT_EQ(header.size(), 16u + ((std::size_t{header[14]} << 8) | header[15]));
  }
}

TEST(ProxyHeaderSpec, V2LocalPresentsNoAddress) {
  // §2.2: "When a sender presents a LOCAL connection, it should not present any address so it
  // sets this field to zero." The 16-byte struct proxy_hdr_v2 and nothing after it.
  auto expected = kV2Signature;
  for (std::uint8_t b : {0x20, 0x00, 0x00, 0x00}) expected.push_back(b);
  EXPECT_EQ(proxy_header_v2(Address{}, Address{}), expected);
}

TEST(ProxyHeaderSpec, V1AndV2AreTellableApart) {
  // §2.2 "Identifying the protocol version": v2 by its 13-byte prefix, v1 by "PROXY"; neither
  // header may be mistaken for the other.
  const Address src = v4({192, 168, 0, 1}, 56324);
  const Address dst = v4({192, 168, 0, 11}, 443);
  const auto one = proxy_header_v1(src, dst);
  const auto two = proxy_header_v2(src, dst);
  EXPECT_NE(std::vector<std::uint8_t>(one.begin(), one.begin() + 12), kV2Signature);
  EXPECT_NE(text(std::vector<std::uint8_t>(two.begin(), two.begin() + 5)), "PROXY");
}

TEST(ProxyHeader, DispatchesOnVersion) {
  const Address src = v4({198, 51, 100, 20}, 5000);
  const Address dst = v4({127, 0, 0, 1}, 24);
  EXPECT_EQ(proxy_header(ProxyVersion::v1, src, dst), proxy_header_v1(src, dst));
  EXPECT_EQ(proxy_header(ProxyVersion::v2, src, dst), proxy_header_v2(src, dst));
}

}  // namespace
}  // namespace mailtun::forwarder
