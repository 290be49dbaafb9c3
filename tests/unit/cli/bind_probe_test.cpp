// `check --probe` binding the listeners: a port that is taken or privileged is reported in words
// an admin acts on, and a free one is left free.

#include "cli/bind_probe.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mailtun::cli {
namespace {

TEST(BindProbeTest, PrivilegeAndOtherErrorsAreWorded) {
  const SocketAddress lmtp{.address = "127.0.0.1", .port = 24, .ipv6 = false};
  const SocketAddress high{.address = "127.0.0.1", .port = 2525, .ipv6 = false};
  EXPECT_EQ(bind_failure_text(lmtp, EACCES),
            "permission denied: port 24 is below 1024, which needs root or CAP_NET_BIND_SERVICE (the systemd unit "
            "grants it with AmbientCapabilities=CAP_NET_BIND_SERVICE)");
  EXPECT_EQ(bind_failure_text(high, EACCES), "permission denied");
  EXPECT_NE(bind_failure_text(lmtp, EADDRINUSE).find("address in use; is another program"), std::string::npos);
  EXPECT_NE(bind_failure_text(lmtp, EADDRNOTAVAIL).find("no network interface of this host has this address"),
            std::string::npos);
}

TEST(BindProbeTest, TakenPortIsInUseFreePortIsFree) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const SocketAddress taken{.address = "127.0.0.1", .port = ntohs(address.sin_port), .ipv6 = false};

  const auto problem = try_bind(taken);
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("address in use"), std::string::npos) << *problem;
  // A wildcard listener of the same port clashes too.
  EXPECT_TRUE(try_bind(SocketAddress{.address = "0.0.0.0", .port = taken.port, .ipv6 = false}));

  ::close(fd);
  EXPECT_EQ(try_bind(taken), std::nullopt);
  EXPECT_EQ(try_bind(taken), std::nullopt);  // the probe released it
}

TEST(BindProbeTest, AnAddressOfNoInterfaceIsNotAvailable) {
  const auto problem = try_bind(SocketAddress{.address = "192.0.2.1", .port = 2525, .ipv6 = false});
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("address not available"), std::string::npos) << *problem;
}

}  // namespace
}  // namespace mailtun::cli
