#pragma once
// Counters kept per service (forwarder/) and per peer (the endpoint), read by `mailtun status`.

#include <cstdint>

namespace mailtun::forwarder {

struct ServiceCounters {
  std::uint64_t connections = 0;   // local clients accepted (forward) or streams opened (expose)
  std::uint64_t unavailable = 0;   // forward: clients answered "unavailable" (421 …): no tunnel, or refused at once
  std::uint64_t refused = 0;       // streams reset or refused otherwise
  std::uint64_t bytes_to_peer = 0;
  std::uint64_t bytes_from_peer = 0;
  std::uint64_t active = 0;
};

}  // namespace mailtun::forwarder
