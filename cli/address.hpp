#pragma once
// The two kinds of address in the configuration file (DESIGN §7): where a listener binds, an IP
// literal only, and where a dialer connects, which may be a name.

#include <cstdint>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace mailtun::cli {

/// An IP address literal and a port: where a listener binds. Never a host name, because a
/// listener binds to one address and a name may resolve to several or change.
struct SocketAddress {
  std::string address;  // canonical text (inet_ntop), no brackets: "127.0.0.1", "::1"
  std::uint16_t port = 0;
  bool ipv6 = false;

  /// "127.0.0.1:24", or "[::1]:24" for IPv6.
  [[nodiscard]] std::string to_string() const;
  /// True for 0.0.0.0 and ::, which take the port on every address of the host.
  [[nodiscard]] bool is_wildcard() const;
  /// True for 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8: reachable from this host only.
  [[nodiscard]] bool is_loopback() const;
  friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
};

/// A host (DNS name, IPv4 literal or IPv6 literal) and a port: where a dialer connects. Names are
/// resolved when connecting, not here (DESIGN §4.4: afresh on every attempt).
struct HostPort {
  std::string host;  // as written, without the brackets of an IPv6 literal
  std::uint16_t port = 0;

  /// "host:port", with brackets around an IPv6 literal.
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const HostPort&, const HostPort&) = default;
};

/// Parses "IPv4:port" or "[IPv6]:port" with inet_pton; no DNS. On bad input returns a message of
/// the form "what is wrong; what is expected" that quotes the input (addresses are not secret).
[[nodiscard]] tl::expected<SocketAddress, std::string> parse_socket_address(std::string_view text);

/// Parses "host:port" where host is a DNS name, an IPv4 literal or a bracketed IPv6 literal.
/// Messages as parse_socket_address.
[[nodiscard]] tl::expected<HostPort, std::string> parse_host_port(std::string_view text);

}  // namespace mailtun::cli
