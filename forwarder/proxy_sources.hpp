#pragma once
// DESIGN §5, §7: which client addresses a peer may claim in OPEN for an expose that sends a PROXY
// header. The target trusts the header (Postfix `mynetworks`, Dovecot `login_trusted_networks`
// look at it), so the address in it must be one the expose's configuration allows for that peer,
// not whatever the peer wrote. Pure: no sockets, no name resolution.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "tunnel/frame.hpp"

namespace mailtun::forwarder {

/// An address prefix such as 192.0.2.0/24 or 2001:db8::/32 (a bare address is a prefix of full
/// length). IPv4-mapped IPv6 prefixes (::ffff:a.b.c.d/96 and longer) are held as the IPv4 prefix
/// they describe, as addresses are compared the same way.
struct AddressPrefix {
  std::uint8_t family = 4;  // 4 or 6
  std::array<std::uint8_t, 16> bytes{};  // network order; the first 4 for IPv4; bits past `length` zero
  unsigned length = 0;
  friend bool operator==(const AddressPrefix&, const AddressPrefix&) = default;
};

/// Parses "ADDRESS/LENGTH" or "ADDRESS" (IPv6 without brackets). Host bits set beyond the length
/// are an error ("192.0.2.1/24" is probably a typo of one of two things). The error is worded to
/// follow the quoted value: "is not an address prefix; expected …".
[[nodiscard]] tl::expected<AddressPrefix, std::string> parse_address_prefix(std::string_view text);

/// `address` without its port, for logs: "192.0.2.1", "2001:db8::1", or "an address of unknown
/// family".
[[nodiscard]] std::string address_text(const tunnel::Address& address);

/// The default of `proxy_sources`: every address ("0.0.0.0/0", "::/0"), but see ProxySources.
[[nodiscard]] std::vector<AddressPrefix> default_proxy_sources();

/// The `proxy_sources` of an expose. A claimed client address is allowed if a listed prefix holds
/// it, except that a loopback (127.0.0.0/8, ::1), unspecified (0.0.0.0/8, ::) or link-local
/// (169.254.0.0/16, fe80::/10) address needs a listed prefix that lies inside that range, such as
/// "127.0.0.0/8" or "127.0.0.1": "0.0.0.0/0" never lets a peer claim to be this host, which is
/// what targets trust most. An IPv4-mapped IPv6 address is judged as the IPv4 address it carries,
/// since that is what the PROXY header will say. An address of unknown family is never allowed.
class ProxySources {
 public:
  ProxySources() : ProxySources(default_proxy_sources()) {}
  explicit ProxySources(std::vector<AddressPrefix> prefixes);
  [[nodiscard]] bool allows(const tunnel::Address& source) const;
  [[nodiscard]] const std::vector<AddressPrefix>& prefixes() const { return prefixes_; }

 private:
  std::vector<AddressPrefix> prefixes_;
};

}  // namespace mailtun::forwarder
