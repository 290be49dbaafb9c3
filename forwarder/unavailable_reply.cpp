#include "forwarder/unavailable_reply.hpp"

#include <algorithm>

namespace mailtun::forwarder {
namespace {

// SMTP reply text and IMAP/POP3 response text are 7-bit (RFC 5321 textstring, RFC 3501 TEXT-CHAR);
// anything else is replaced rather than dropped, so the reader can see something was there.
std::string sanitize(std::string_view reason) {
  std::string out;
  out.reserve(std::min(reason.size(), max_unavailable_reason_len));
  bool pending_space = false;
  for (const char c : reason) {
    const auto b = static_cast<unsigned char>(c);
    if (b == ' ' || b == '\t' || b == '\r' || b == '\n') {
      pending_space = !out.empty();  // leading whitespace is dropped
      continue;
    }
    const char printable = (b > 0x20 && b < 0x7f) ? c : '?';
    if (out.size() + (pending_space ? 2 : 1) > max_unavailable_reason_len) break;
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(printable);
  }
  if (out.empty()) return std::string(default_unavailable_reason);
  return out;
}

// RFC 5804 quoted string: DQUOTE *QUOTED-CHAR DQUOTE, with '"' and '\' escaped by '\'.
std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace

std::string unavailable_reply(Protocol protocol, std::string_view reason) {
  switch (protocol) {
    case Protocol::lmtp:
    case Protocol::smtp:
      // 421: the service is closing the channel; 4.4.1: no answer from host (RFC 3463).
      return "421 4.4.1 " + sanitize(reason) + "\r\n";
    case Protocol::imap:
      return "* BYE [UNAVAILABLE] " + sanitize(reason) + "\r\n";
    case Protocol::pop3:
      return "-ERR [SYS/TEMP] " + sanitize(reason) + "\r\n";
    case Protocol::managesieve:
      return "BYE (TRYLATER) " + quoted(sanitize(reason)) + "\r\n";
    case Protocol::sasl:
    case Protocol::tcp:
      break;
  }
  return {};
}

}  // namespace mailtun::forwarder
