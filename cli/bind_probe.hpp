#pragma once
// `mailtun check --probe` for this endpoint's own listeners: binds each listen address the way
// `mailtun up` will, then releases it, so that a port another program holds (Dovecot's own LMTP
// listener on the VPS, a second mailtun) is found before the service fails to start.

#include <optional>
#include <string>

#include "cli/address.hpp"

namespace mailtun::cli {

/// Binds a TCP socket to `address` with SO_REUSEADDR, as the listeners do, and closes it again.
/// Returns nullopt if the bind succeeded, else bind_failure_text() of the error.
[[nodiscard]] std::optional<std::string> try_bind(const SocketAddress& address);

/// What a failed bind of a listener means to the admin: the cause in words and what to look at,
/// e.g. for EADDRINUSE "address in use; is another program … listening there?" and for EACCES
/// (a port below 1024 without root or CAP_NET_BIND_SERVICE) that privilege is missing.
[[nodiscard]] std::string bind_failure_text(const SocketAddress& address, int error);

}  // namespace mailtun::cli
