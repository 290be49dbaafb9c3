// Listen addresses (IP literals only, canonical so they compare) and dial targets (names allowed),
// as written in the configuration file (DESIGN §7).

#include "cli/address.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mailtun::cli {
namespace {

TEST(ConfigAddressTest, LoopbackIsWhatOnlyThisHostReaches) {
  for (const char* text : {"127.0.0.1:24", "127.255.0.9:24", "[::1]:24", "[::ffff:127.0.0.1]:24"}) {
    EXPECT_TRUE(parse_socket_address(text)->is_loopback()) << text;
  }
  for (const char* text : {"0.0.0.0:24", "[::]:24", "192.0.2.1:24", "[2001:db8::1]:24", "[::ffff:10.0.0.1]:24",
                           "128.0.0.1:24", "[::2]:24"}) {
    EXPECT_FALSE(parse_socket_address(text)->is_loopback()) << text;
  }
}

TEST(ConfigAddressTest, SocketAddresses) {
  EXPECT_EQ(parse_socket_address("127.0.0.1:24")->to_string(), "127.0.0.1:24");
  EXPECT_EQ(parse_socket_address("[::1]:24")->to_string(), "[::1]:24");
  EXPECT_EQ(parse_socket_address("[0:0::1]:24")->address, "::1");  // canonical, so comparable
  EXPECT_TRUE(parse_socket_address("[::1]:24")->ipv6);
  EXPECT_TRUE(parse_socket_address("[::]:7424")->is_wildcard());
  EXPECT_EQ(parse_socket_address("0.0.0.0:65535")->port, 65535);

  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:+24",
                          "localhost:24", "::1:24", "[::1]24", "[::1", "[127.0.0.1]:24", ":24", "256.0.0.1:24",
                          "127.0.0.1:24 "}) {
    const auto parsed = parse_socket_address(bad);
    EXPECT_FALSE(parsed) << bad;
    if (!parsed) {
      EXPECT_NE(parsed.error().find("; expected an IP address and port"), std::string::npos) << parsed.error();
    }
  }
  EXPECT_NE(parse_socket_address("::1:24").error().find("without brackets"), std::string::npos);
}

TEST(ConfigAddressTest, HostPorts) {
  EXPECT_EQ(*parse_host_port("vps.example.org:7424"), (HostPort{"vps.example.org", 7424}));
  EXPECT_EQ(*parse_host_port("localhost:24"), (HostPort{"localhost", 24}));
  EXPECT_EQ(*parse_host_port("mail.example.org.:24"), (HostPort{"mail.example.org.", 24}));
  EXPECT_EQ(*parse_host_port("192.0.2.1:24"), (HostPort{"192.0.2.1", 24}));
  EXPECT_EQ(parse_host_port("[2001:db8::1]:7424")->host, "2001:db8::1");
  EXPECT_EQ(parse_host_port("[2001:db8::1]:7424")->to_string(), "[2001:db8::1]:7424");
  for (const char* bad : {"vps.example.org", "vps..example.org:1", "-vps.example.org:1", "vps example:1",
                          "2001:db8::1:7424", "[vps.example.org]:1", "300.1.2.3:24", "host:0"}) {
    EXPECT_FALSE(parse_host_port(bad)) << bad;
  }
}

}  // namespace
}  // namespace mailtun::cli
