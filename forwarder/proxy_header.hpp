#pragma once
// DESIGN §5: the HAProxy PROXY protocol header an expose sends to its target before any stream data,
// built from the client addresses carried in OPEN, so Dovecot and Postfix see the real client
// instead of mailtun's loopback connection. Spec: haproxy doc/proxy-protocol.txt, §2.1 (v1 text)
// and §2.2 (v2 binary). Pure: no sockets, no name resolution.

#include <cstdint>
#include <string_view>
#include <vector>

#include "tunnel/frame.hpp"

namespace mailtun::forwarder {

/// The `proxy_protocol` setting of an expose.
enum class ProxyVersion { v1, v2 };
/// "v1" or "v2", as in the configuration.
std::string_view to_string(ProxyVersion version);

/// True if `source` and `destination` can be described as one TCP4 or TCP6 connection: both IPv4,
/// or both IPv6, after IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are read as the IPv4 address
/// they carry. Otherwise the headers below fall back to UNKNOWN / LOCAL, which tells the target to
/// use its real peer — mailtun's own loopback connection. A target that trusts loopback (Postfix
/// `mynetworks`) would then trust the client, so an expose may prefer to refuse the stream instead.
bool proxy_addresses_known(const tunnel::Address& source, const tunnel::Address& destination);

/// The v1 text line, e.g. "PROXY TCP4 192.0.2.1 198.51.100.7 56324 25\r\n". IPv4 (including
/// IPv4-mapped IPv6) is always TCP4 with dotted-quad text — Postfix rejects an IPv4 client sent
/// as TCP6; IPv6 is TCP6 in RFC 5952 form (lowercase, longest zero run as "::", never an embedded
/// dotted quad, which the spec's grammar does not allow). A family of 0, a family other than 4 or
/// 6, or source and destination of different families give "PROXY UNKNOWN\r\n". Never fails.
std::vector<std::uint8_t> proxy_header_v1(const tunnel::Address& source, const tunnel::Address& destination);

/// The v2 binary header: 12-byte signature, 0x21 (v2, PROXY), 0x11 (TCP over IPv4, 12 address
/// bytes) or 0x21 (TCP over IPv6, 36 address bytes), big-endian length, source and destination
/// address, source and destination port; no TLVs. IPv4-mapped IPv6 is sent as IPv4, as in v1.
/// Whatever v1 would send as UNKNOWN becomes the 16-byte LOCAL header (0x20, family 0x00,
/// length 0). Never fails.
std::vector<std::uint8_t> proxy_header_v2(const tunnel::Address& source, const tunnel::Address& destination);

/// proxy_header_v1 or proxy_header_v2, as `version` says.
std::vector<std::uint8_t> proxy_header(ProxyVersion version, const tunnel::Address& source,
                                       const tunnel::Address& destination);

}  // namespace mailtun::forwarder
