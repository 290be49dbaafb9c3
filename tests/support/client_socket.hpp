#pragma once
// Blocking client sockets that a test drives by hand against a server on a loop of its own: a unix
// socket, or TCP to 127.0.0.1.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "keys/file_descriptor.hpp"

namespace mailtun::testing {

/// A connected socket, closed when it goes.
using Socket = std::unique_ptr<keys::FileDescriptor>;

/// Connects to the unix socket at `path`; a failure is a test failure (and a socket that is not
/// connected).
inline Socket connect_unix(const std::filesystem::path& path) {
  auto fd = std::make_unique<keys::FileDescriptor>(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  EXPECT_EQ(::connect(fd->get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0)
      << std::strerror(errno);
  return fd;
}

/// Connects to 127.0.0.1:`port`, as connect_unix.
inline Socket connect_loopback(std::uint16_t port) {
  auto fd = std::make_unique<keys::FileDescriptor>(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd->get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0)
      << std::strerror(errno);
  return fd;
}

/// Reads until the server closes; "timeout" if it has not within `limit`.
inline std::string read_to_end(int fd, std::chrono::milliseconds limit) {
  timeval tv{.tv_sec = limit.count() / 1000, .tv_usec = (limit.count() % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) return text;
    if (n < 0) return errno == EAGAIN ? "timeout" : std::strerror(errno);
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

}  // namespace mailtun::testing
