#pragma once
// Text that came from a peer or a stranger, made safe to put in a log line or on a terminal.
// Pure: used by the tunnel, the forwarder and the command line alike.

#include <string>
#include <string_view>

namespace mailtun::tunnel {

/// `text` with every byte outside printable ASCII written as "\xNN", and each backslash as "\\":
/// a newline from a peer cannot start a forged log line, escape sequences cannot act on the
/// terminal that shows the log, bytes that are not UTF-8 cannot upset the journal, and no escaped
/// text can pass for another (a literal "\x0a" from the peer reads "\\x0a").
[[nodiscard]] std::string printable(std::string_view text);

}  // namespace mailtun::tunnel
