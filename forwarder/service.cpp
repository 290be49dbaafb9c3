#include "forwarder/service.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace mailtun::forwarder {
namespace {

constexpr std::array<std::pair<std::string_view, Protocol>, 7> protocol_names{{
    {"lmtp", Protocol::lmtp},
    {"smtp", Protocol::smtp},
    {"imap", Protocol::imap},
    {"pop3", Protocol::pop3},
    {"managesieve", Protocol::managesieve},
    {"sasl", Protocol::sasl},
    {"tcp", Protocol::tcp},
}};

constexpr std::array<std::pair<std::string_view, Protocol>, 12> service_protocols{{
    {"lmtp", Protocol::lmtp},
    {"smtp", Protocol::smtp},
    {"submission", Protocol::smtp},
    {"submissions", Protocol::smtp},
    {"relay", Protocol::smtp},
    {"imap", Protocol::imap},
    {"imaps", Protocol::imap},
    {"pop3", Protocol::pop3},
    {"pop3s", Protocol::pop3},
    {"sieve", Protocol::managesieve},
    {"dovecot-auth", Protocol::sasl},
    {"sasl", Protocol::sasl},
}};

}  // namespace

std::optional<Protocol> parse_protocol(std::string_view name) {
  const auto it = std::ranges::find(protocol_names, name, &std::pair<std::string_view, Protocol>::first);
  if (it == protocol_names.end()) return std::nullopt;
  return it->second;
}

std::string_view to_string(Protocol protocol) {
  const auto it = std::ranges::find(protocol_names, protocol, &std::pair<std::string_view, Protocol>::second);
  return it->first;
}

std::optional<Protocol> protocol_for_service(std::string_view service) {
  const auto it = std::ranges::find(service_protocols, service, &std::pair<std::string_view, Protocol>::first);
  if (it == service_protocols.end()) return std::nullopt;
  return it->second;
}

bool is_mail_port(std::uint16_t port) {
  constexpr std::array<std::uint16_t, 9> ports{24, 25, 110, 143, 465, 587, 993, 995, 4190};
  return std::ranges::find(ports, port) != ports.end() || (port >= 10024 && port <= 10026);
}

std::optional<std::string> check_expose_port(std::string_view service, std::uint16_t port, bool allow_any_port) {
  constexpr std::uint16_t dovecot_auth_port = 3659;
  const bool auth_service = service == "dovecot-auth" || service == "sasl";
  if (allow_any_port || is_mail_port(port) || (auth_service && port == dovecot_auth_port)) return std::nullopt;
  return "port " + std::to_string(port) + " is not a mail port (24, 25, 110, 143, 465, 587, 993, 995, 4190, " +
         "10024-10026" + (auth_service ? ", 3659" : "") +
         "); use a mail port, or set allow_any_port = true on this expose if this really is a mail service";
}

std::optional<std::string> check_forward_exposure(std::string_view service, Protocol protocol, bool loopback,
                                                  bool allow_public) {
  if (loopback || allow_public) return std::nullopt;
  // The service name counts as much as the protocol: `service = "lmtp"` with `protocol = "smtp"`
  // still reaches an LMTP server at the peer.
  const std::optional<Protocol> named = protocol_for_service(service);
  const auto speaks = [&](Protocol p) { return protocol == p || named == p; };
  if (speaks(Protocol::lmtp)) {
    return "LMTP has no authentication: anyone on the network could deliver straight into the peer's mailboxes";
  }
  if (speaks(Protocol::sasl)) {
    return "Dovecot's auth protocol trusts its client: anyone on the network could query Dovecot's passwords";
  }
  if (service == "relay") {
    return "the relay service accepts mail without authentication: anyone on the network could send mail "
           "through the peer (an open relay)";
  }
  if (protocol == Protocol::tcp) {
    return "protocol tcp gives no guarantee that the service authenticates its clients";
  }
  return std::nullopt;
}

}  // namespace mailtun::forwarder
