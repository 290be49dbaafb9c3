// Review finding "the peer chooses the client address in the PROXY header": an expose's
// proxy_sources decides which client addresses a peer may claim (DESIGN §5, §7).

#include "forwarder/proxy_sources.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailtun::forwarder {
namespace {

tunnel::Address address(const std::string& text) {
  tunnel::Address result;
  if (::inet_pton(AF_INET, text.c_str(), result.bytes.data()) == 1) {
    result.family = 4;
  } else {
    EXPECT_EQ(::inet_pton(AF_INET6, text.c_str(), result.bytes.data()), 1) << text;
    result.family = 6;
  }
  result.port = 50000;
  return result;
}

ProxySources sources(std::initializer_list<const char*> texts) {
  std::vector<AddressPrefix> prefixes;
  for (const char* text : texts) {
    auto prefix = parse_address_prefix(text);
    EXPECT_TRUE(prefix.has_value()) << text;
    if (prefix) prefixes.push_back(*prefix);
  }
  return ProxySources(std::move(prefixes));
}

TEST(ParseAddressPrefix, ReadsPrefixesAndSingleAddresses) {
  const auto v4 = parse_address_prefix("192.0.2.0/24");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->family, 4);
  EXPECT_EQ(v4->length, 24U);
  EXPECT_EQ(v4->bytes[0], 192);
  EXPECT_EQ(parse_address_prefix("127.0.0.1")->length, 32U);
  EXPECT_EQ(parse_address_prefix("2001:db8::/32")->length, 32U);
  EXPECT_EQ(parse_address_prefix("::1")->length, 128U);
  EXPECT_EQ(parse_address_prefix("0.0.0.0/0")->length, 0U);
}

TEST(ParseAddressPrefix, MappedIpv6PrefixesAreHeldAsIpv4) {
  EXPECT_EQ(parse_address_prefix("::ffff:127.0.0.0/104"), parse_address_prefix("127.0.0.0/8"));
}

TEST(ParseAddressPrefix, RefusesWhatIsNotAPrefix) {
  for (const char* bad : {"", "localhost", "192.0.2.0/", "192.0.2.0/33", "::/129", "192.0.2.0/x", "192.0.2.0/24/1",
                          "[::1]/128", "192.0.2.0/-1"}) {
    EXPECT_FALSE(parse_address_prefix(bad)) << bad;
  }
  EXPECT_EQ(parse_address_prefix("10.0.0.1/8").error().substr(0, 37), "has bits set past the prefix length; ");
  EXPECT_TRUE(parse_address_prefix("example.org").error().starts_with("is not an address prefix; expected"));
}

TEST(ProxySources, TheDefaultAllowsPublicAddressesOfBothFamilies) {
  const ProxySources any;
  EXPECT_TRUE(any.allows(address("192.0.2.7")));
  EXPECT_TRUE(any.allows(address("10.1.2.3")));
  EXPECT_TRUE(any.allows(address("2001:db8::7")));
}

TEST(ProxySources, TheDefaultRefusesLoopbackUnspecifiedAndLinkLocal) {
  const ProxySources any;
  for (const char* claim : {"127.0.0.1", "127.255.0.9", "0.0.0.0", "169.254.1.1", "::1", "::", "fe80::1",
                            "::ffff:127.0.0.1", "::ffff:169.254.0.1"}) {
    EXPECT_FALSE(any.allows(address(claim))) << claim;
  }
}

TEST(ProxySources, LoopbackIsAllowedOnlyWhenAPrefixInsideItIsListed) {
  EXPECT_TRUE(sources({"0.0.0.0/0", "127.0.0.0/8"}).allows(address("127.0.0.1")));
  EXPECT_TRUE(sources({"127.0.0.1"}).allows(address("::ffff:127.0.0.1")));
  EXPECT_FALSE(sources({"127.0.0.1"}).allows(address("127.0.0.2")));
  // Wider than loopback does not name it, however it is written.
  EXPECT_FALSE(sources({"64.0.0.0/2"}).allows(address("127.0.0.1")));
  EXPECT_TRUE(sources({"::1"}).allows(address("::1")));
  EXPECT_TRUE(sources({"fe80::/10"}).allows(address("fe80::1")));
  EXPECT_FALSE(sources({"fe80::/10"}).allows(address("::1")));
}

TEST(ProxySources, OnlyListedPrefixesAreAllowed) {
  const ProxySources office = sources({"192.0.2.0/24", "2001:db8:1::/48"});
  EXPECT_TRUE(office.allows(address("192.0.2.255")));
  EXPECT_FALSE(office.allows(address("192.0.3.0")));
  EXPECT_TRUE(office.allows(address("2001:db8:1:ffff::1")));
  EXPECT_FALSE(office.allows(address("2001:db8:2::1")));
  EXPECT_TRUE(office.allows(address("::ffff:192.0.2.1")));  // what the PROXY header will say
  EXPECT_FALSE(ProxySources(std::vector<AddressPrefix>{}).allows(address("192.0.2.1")));
}

TEST(AddressText, NamesTheAddressWithoutItsPort) {
  EXPECT_EQ(address_text(address("192.0.2.1")), "192.0.2.1");
  EXPECT_EQ(address_text(address("2001:db8::1")), "2001:db8::1");
  EXPECT_EQ(address_text(tunnel::Address{}), "an address of unknown family");
}

TEST(ProxySources, AnAddressOfUnknownFamilyIsNeverAllowed) {
  tunnel::Address unknown;
  EXPECT_FALSE(ProxySources().allows(unknown));
}

}  // namespace
}  // namespace mailtun::forwarder
