#pragma once
// DESIGN §5 "peer down": what a forward says to its local client, in the client's own protocol,
// when the peer has no live connection or the stream was refused before the service said
// anything. Every reply is a temporary failure, so Postfix defers with a clear reason instead of a
// bare "lost connection"; never a 5xx, on which Postfix would bounce. Pure.

#include <cstddef>
#include <string>
#include <string_view>

#include "forwarder/service.hpp"

namespace mailtun::forwarder {

/// The most bytes of reason text a reply carries. Keeps the longest reply (ManageSieve, where
/// every character may be escaped) far below SMTP's 512-byte reply line (RFC 5321 §4.5.3.1.5).
inline constexpr std::size_t max_unavailable_reason_len = 200;

/// Used when the reason given is empty or sanitizes to nothing.
inline constexpr std::string_view default_unavailable_reason = "mailtun: service unavailable";

/// The whole reply, one CRLF-terminated line, that the forward writes before closing:
///   lmtp, smtp:   "421 4.4.1 <reason>\r\n"
///   imap:         "* BYE [UNAVAILABLE] <reason>\r\n"        (RFC 5530)
///   pop3:         "-ERR [SYS/TEMP] <reason>\r\n"            (RFC 3206)
///   managesieve:  "BYE (TRYLATER) \"<reason>\"\r\n"         (RFC 5804; '"' and '\' escaped)
///   sasl, tcp:    ""  (no greeting format to borrow: the forward just closes)
/// `reason` may hold anything, including text a peer sent in an RST: every byte outside printable
/// US-ASCII (CR, LF, other controls, DEL, non-ASCII) becomes a space or '?', runs of whitespace
/// collapse, and the result is trimmed and cut to max_unavailable_reason_len bytes, so no reply can
/// contain a line break or end one early. An empty result is replaced by the default reason.
std::string unavailable_reply(Protocol protocol, std::string_view reason);

}  // namespace mailtun::forwarder
