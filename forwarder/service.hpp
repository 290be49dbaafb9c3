#pragma once
// DESIGN §6 (contract): which protocol a service speaks, and the two guards: the mail-port guard
// that keeps an expose from turning the tunnel into a door to arbitrary local ports, and the
// exposure guard that keeps a forward of a protocol without authentication off the network.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailtun::forwarder {

enum class Protocol { lmtp, smtp, imap, pop3, managesieve, sasl, tcp };

/// "lmtp", "smtp", "imap", "pop3", "managesieve", "sasl", "tcp" (a protocol mailtun knows nothing
/// about: no "unavailable" reply, just a close).
std::optional<Protocol> parse_protocol(std::string_view name);
std::string_view to_string(Protocol protocol);

/// The protocol a well-known service name implies (DESIGN §6), or nullopt: then the configuration
/// must say `protocol = "…"`.
std::optional<Protocol> protocol_for_service(std::string_view service);

/// 24, 25, 110, 143, 465, 587, 993, 995, 4190 and 10024–10026.
bool is_mail_port(std::uint16_t port);

/// The mail-port guard: nullopt if an expose of `service` may target `port`, else the reason it may
/// not, phrased for a configuration error message. Only the service *name* earns Dovecot's auth
/// port 3659 ("dovecot-auth", "sasl"); the protocol plays no part, since an explicit `protocol`
/// never widens the guard.
std::optional<std::string> check_expose_port(std::string_view service, std::uint16_t port, bool allow_any_port);

/// The exposure guard: nullopt if a forward of `service` speaking `protocol` may listen where it
/// does (`loopback`: on 127.0.0.0/8 or ::1), else what listening there would let anyone on the
/// network do, phrased to follow "… is not a loopback address, and". A forward is guarded if
/// either its protocol or its service name has no authentication of its own (lmtp, sasl, the
/// `relay` service, and tcp, of which nothing is known); `allow_public` opts out.
std::optional<std::string> check_forward_exposure(std::string_view service, Protocol protocol, bool loopback,
                                                  bool allow_public);

}  // namespace mailtun::forwarder
