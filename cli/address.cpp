#include "cli/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <optional>

#include "cli/error_text.hpp"

namespace mailtun::cli {

namespace {

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5 || !std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  unsigned value = 0;
  for (const char c : text) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value < 1 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

/// "host:port" split at the port's colon, with a good port and a non-empty host; `bracketed` if
/// the host was in [ ].
struct SplitHostPort {
  std::string host;
  std::uint16_t port = 0;
  bool bracketed = false;
};

/// Splits; on failure returns what is wrong, worded to be followed by "; expected …".
tl::expected<SplitHostPort, std::string> split_host_port(std::string_view text) {
  if (text.empty()) return tl::unexpected(std::string("empty"));
  SplitHostPort split;
  std::string_view port;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return tl::unexpected(quote_value(text) + " has no closing \"]\"");
    split.host = text.substr(1, close - 1);
    split.bracketed = true;
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return tl::unexpected(quote_value(text) + " has no port after the address");
    }
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return tl::unexpected(quote_value(text) + " has no port");
    split.host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (split.host.find(':') != std::string::npos) {
      return tl::unexpected(quote_value(text) + " looks like an IPv6 address without brackets");
    }
  }
  if (split.host.empty()) return tl::unexpected(quote_value(text) + " has no address before the port");
  const auto number = parse_port(port);
  if (!number) {
    return tl::unexpected(quote_value(text) + " has port " + quote_value(port) +
                          ", which is not a number from 1 to 65535");
  }
  split.port = *number;
  return split;
}

/// `host` must not be empty.
bool is_dns_name(std::string_view host) {
  if (host.back() == '.') host.remove_suffix(1);  // a fully qualified name
  if (host.empty() || host.size() > 253) return false;
  std::size_t start = 0;
  while (start <= host.size()) {
    const std::size_t dot = std::min(host.find('.', start), host.size());
    const std::string_view label = host.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    const bool ok = std::ranges::all_of(label, [](char c) {
      // '_' is not valid in DNS host names, but /etc/hosts and internal resolvers accept it.
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
    if (!ok) return false;
    start = dot + 1;
  }
  // All digits and dots would be taken by the resolver as a (bad) IPv4 address, not a name.
  return !std::ranges::all_of(host, [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

/// The canonical text (inet_ntop) of `host` if it is an address literal of `family` (AF_INET or
/// AF_INET6), so that two spellings of one address compare equal; nullopt if it is not.
std::optional<std::string> canonical_ip(int family, const std::string& host) {
  in6_addr bytes{};  // room for either family
  if (::inet_pton(family, host.c_str(), &bytes) != 1) return std::nullopt;
  std::array<char, INET6_ADDRSTRLEN> text{};
  ::inet_ntop(family, &bytes, text.data(), text.size());
  return std::string(text.data());
}

}  // namespace

std::string SocketAddress::to_string() const {
  return (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

bool SocketAddress::is_wildcard() const { return address == "0.0.0.0" || address == "::"; }

bool SocketAddress::is_loopback() const {
  if (!ipv6) return address.starts_with("127.");
  in6_addr bytes{};
  if (::inet_pton(AF_INET6, address.c_str(), &bytes) != 1) return false;
  return IN6_IS_ADDR_LOOPBACK(&bytes) || (IN6_IS_ADDR_V4MAPPED(&bytes) && bytes.s6_addr[12] == 127);
}

std::string HostPort::to_string() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

tl::expected<SocketAddress, std::string> parse_socket_address(std::string_view text) {
  const std::string expected = R"(; expected an IP address and port such as "127.0.0.1:24" or "[::1]:24")";
  auto split = split_host_port(text);
  if (!split) return tl::unexpected(split.error() + expected);
  auto address = canonical_ip(split->bracketed ? AF_INET6 : AF_INET, split->host);
  if (!address && split->bracketed) {
    return tl::unexpected(quote_value(split->host) + " is not an IPv6 address" + expected);
  }
  if (!address) {
    return tl::unexpected(quote_value(split->host) + " is not an IP address" + expected +
                          " (a listener binds one address, so host names are not accepted)");
  }
  return SocketAddress{.address = std::move(*address), .port = split->port, .ipv6 = split->bracketed};
}

tl::expected<HostPort, std::string> parse_host_port(std::string_view text) {
  const std::string expected =
      R"(; expected a host name or IP address and a port, such as "mail.example.org:24", "127.0.0.1:24" or "[::1]:24")";
  auto split = split_host_port(text);
  if (!split) return tl::unexpected(split.error() + expected);
  if (split->bracketed) {
    if (!canonical_ip(AF_INET6, split->host)) {
      return tl::unexpected(quote_value(split->host) + " is not an IPv6 address" + expected);
    }
  } else if (!canonical_ip(AF_INET, split->host) && !is_dns_name(split->host)) {
    return tl::unexpected(quote_value(split->host) + " is neither a host name nor an IP address" + expected);
  }
  return HostPort{.host = std::move(split->host), .port = split->port};
}

}  // namespace mailtun::cli
