#pragma once
// The number of open files `mailtun up` may have. A VPS endpoint holds a socket per connected peer
// and a listener per forward, so 1000 offices need over 2000 descriptors; the soft limit a process
// starts with is usually 1024, while the hard limit (systemd's default: 524288) is far above.
// mailtun waits with epoll, never select(), so a high limit costs nothing: it raises its own.

#include <cstdint>
#include <optional>
#include <string>

namespace mailtun::cli {

struct DescriptorLimit {
  std::uint64_t before;
  std::uint64_t now;
};

/// Raises the soft RLIMIT_NOFILE to the hard limit. Returns both, or nullopt with nothing changed
/// if the limits cannot be read or set (the endpoint runs on with what it has).
std::optional<DescriptorLimit> raise_descriptor_limit();

}  // namespace mailtun::cli
