#include "cli/bind_probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "keys/file_descriptor.hpp"

namespace mailtun::cli {

namespace {

/// Below this port, binding needs root or CAP_NET_BIND_SERVICE (Linux's default
/// net.ipv4.ip_unprivileged_port_start).
constexpr std::uint16_t first_unprivileged_port = 1024;

}  // namespace

std::string bind_failure_text(const SocketAddress& address, int error) {
  switch (error) {
    case EADDRINUSE:
      return "address in use; is another program (Dovecot's or Postfix's own listener? another mailtun?) "
             "listening there?";
    case EACCES:
      if (address.port < first_unprivileged_port) {
        return "permission denied: port " + std::to_string(address.port) +
               " is below 1024, which needs root or CAP_NET_BIND_SERVICE (the systemd unit grants it with "
               "AmbientCapabilities=CAP_NET_BIND_SERVICE)";
      }
      return "permission denied";
    case EADDRNOTAVAIL: return "address not available: no network interface of this host has this address";
    default: break;
  }
  return std::generic_category().message(error);
}

std::optional<std::string> try_bind(const SocketAddress& address) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (address.ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(address.port);
    if (::inet_pton(AF_INET6, address.address.c_str(), &in6->sin6_addr) != 1) return "not an IPv6 address";
    length = sizeof *in6;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(address.port);
    if (::inet_pton(AF_INET, address.address.c_str(), &in->sin_addr) != 1) return "not an IPv4 address";
    length = sizeof *in;
  }
  const keys::FileDescriptor fd(::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return "cannot create a socket: " + std::generic_category().message(errno);
  // As the listeners set it (Asio's default): a port left in TIME_WAIT by a stopped mailtun is free.
  const int on = 1;
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0) {
    return bind_failure_text(address, errno);
  }
  return std::nullopt;
}

}  // namespace mailtun::cli
