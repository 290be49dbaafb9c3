#pragma once
// DESIGN §6 (contract): which protocol a service speaks, and the mail-port guard that keeps an
// expose from turning the tunnel into a door to arbitrary local ports.

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

/// The guard: nullopt if an expose of `protocol` may target `port`, else the reason it may not,
/// phrased for a configuration error message.
std::optional<std::string> check_expose_port(Protocol protocol, std::uint16_t port, bool allow_any_port);

}  // namespace mailtun::forwarder
