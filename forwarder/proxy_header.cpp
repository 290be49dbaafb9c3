#include "forwarder/proxy_header.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace mailtun::forwarder {
namespace {

// proxy-protocol.txt §2.2
constexpr std::array<std::uint8_t, 12> v2_signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                       0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::uint8_t v2_command_local = 0x20;
constexpr std::uint8_t v2_command_proxy = 0x21;
constexpr std::uint8_t v2_family_unspec = 0x00;
constexpr std::uint8_t v2_tcp_over_ipv4 = 0x11;
constexpr std::uint8_t v2_tcp_over_ipv6 = 0x21;

enum class Family { unknown, ipv4, ipv6 };

// One endpoint as the header will describe it: IPv4-mapped IPv6 folded into IPv4.
struct Endpoint {
  Family family = Family::unknown;
  std::span<const std::uint8_t> bytes;  // 4 or 16, pointing into the Address
  std::uint16_t port = 0;
};

bool is_ipv4_mapped(const std::array<std::uint8_t, 16>& b) {
  constexpr std::array<std::uint8_t, 12> prefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::equal(prefix.begin(), prefix.end(), b.begin());
}

Endpoint endpoint(const tunnel::Address& a) {
  const std::span<const std::uint8_t> all(a.bytes);
  switch (a.family) {
    case 4:
      return {Family::ipv4, all.first(4), a.port};
    case 6:
      // A dual-stack listener reports an IPv4 client as ::ffff:a.b.c.d; it is still an IPv4
      // client, and Postfix rejects TCP6 for one (DESIGN §5).
      if (is_ipv4_mapped(a.bytes)) return {Family::ipv4, all.subspan(12, 4), a.port};
      return {Family::ipv6, all, a.port};
    default:
      return {};
  }
}

// Family::unknown unless both endpoints share one family: the header has one family field.
Family common_family(const Endpoint& src, const Endpoint& dst) {
  return src.family == dst.family ? src.family : Family::unknown;
}

void append(std::vector<std::uint8_t>& out, std::string_view text) { out.insert(out.end(), text.begin(), text.end()); }

void append_ipv4_text(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> b) {
  // §2.1: decimal, no leading zeroes (they would read as octal).
  for (std::size_t i = 0; i < 4; ++i) {
    if (i != 0) out.push_back('.');
    append(out, std::to_string(b[i]));
  }
}

// RFC 5952 §4: lowercase hex without leading zeroes, the longest run of two or more zero groups
// (the first of equally long runs) as "::". Unlike inet_ntop, never an embedded dotted quad,
// which the PROXY v1 grammar has no room for.
void append_ipv6_text(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> b) {
  std::array<std::uint16_t, 8> groups{};
  for (std::size_t i = 0; i < 8; ++i) groups[i] = static_cast<std::uint16_t>(b[2 * i] << 8 | b[2 * i + 1]);

  std::size_t best_start = 8, best_len = 0;
  for (std::size_t i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best_start = 8;  // §4.2.2: a single zero group is not shortened

  static constexpr std::string_view hex = "0123456789abcdef";
  for (std::size_t i = 0; i < 8;) {
    if (i == best_start) {
      append(out, "::");
      i += best_len;
      continue;
    }
    if (i != 0 && i != best_start + best_len) out.push_back(':');
    const std::uint16_t g = groups[i];
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const auto nibble = static_cast<std::size_t>((g >> shift) & 0xf);
      if (nibble != 0 || started || shift == 0) {
        out.push_back(static_cast<std::uint8_t>(hex[nibble]));
        started = true;
      }
    }
    ++i;
  }
}

void append_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

}  // namespace

bool proxy_addresses_known(const tunnel::Address& source, const tunnel::Address& destination) {
  return common_family(endpoint(source), endpoint(destination)) != Family::unknown;
}

std::vector<std::uint8_t> proxy_header_v1(const tunnel::Address& source, const tunnel::Address& destination) {
  const Endpoint src = endpoint(source);
  const Endpoint dst = endpoint(destination);
  const Family family = common_family(src, dst);

  std::vector<std::uint8_t> out;
  out.reserve(104);  // §2.1: the longest TCP6 line
  if (family == Family::unknown) {
    // §2.1: the short form; the receiver ignores anything up to CRLF anyway.
    append(out, "PROXY UNKNOWN\r\n");
    return out;
  }
  const auto append_address = family == Family::ipv4 ? append_ipv4_text : append_ipv6_text;
  append(out, family == Family::ipv4 ? "PROXY TCP4 " : "PROXY TCP6 ");
  append_address(out, src.bytes);
  out.push_back(' ');
  append_address(out, dst.bytes);
  out.push_back(' ');
  append(out, std::to_string(src.port));
  out.push_back(' ');
  append(out, std::to_string(dst.port));
  append(out, "\r\n");
  return out;
}

std::vector<std::uint8_t> proxy_header_v2(const tunnel::Address& source, const tunnel::Address& destination) {
  const Endpoint src = endpoint(source);
  const Endpoint dst = endpoint(destination);
  const Family family = common_family(src, dst);

  std::vector<std::uint8_t> out(v2_signature.begin(), v2_signature.end());
  if (family == Family::unknown) {
    // §2.2: LOCAL with AF_UNSPEC and no address block; the receiver uses the real endpoints.
    out.push_back(v2_command_local);
    out.push_back(v2_family_unspec);
    append_u16(out, 0);
    return out;
  }
  const std::size_t address_len = 2 * src.bytes.size() + 2 * 2;  // 12 for IPv4, 36 for IPv6
  out.push_back(v2_command_proxy);
  out.push_back(family == Family::ipv4 ? v2_tcp_over_ipv4 : v2_tcp_over_ipv6);
  append_u16(out, static_cast<std::uint16_t>(address_len));
  out.insert(out.end(), src.bytes.begin(), src.bytes.end());
  out.insert(out.end(), dst.bytes.begin(), dst.bytes.end());
  append_u16(out, src.port);
  append_u16(out, dst.port);
  return out;
}

std::string_view to_string(ProxyVersion version) { return version == ProxyVersion::v1 ? "v1" : "v2"; }

std::vector<std::uint8_t> proxy_header(ProxyVersion version, const tunnel::Address& source,
                                       const tunnel::Address& destination) {
  return version == ProxyVersion::v1 ? proxy_header_v1(source, destination) : proxy_header_v2(source, destination);
}

}  // namespace mailtun::forwarder
