// Fuzz target: the PROXY header builder (DESIGN §5) on arbitrary OPEN addresses. Both versions
// always produce a header that fits the spec's bounds.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "forwarder/proxy_header.hpp"

using namespace mailtun;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

constexpr std::size_t address_len = 1 + 16 + 2;

tunnel::Address address_from(const std::uint8_t* data) {
  tunnel::Address address;
  address.family = data[0];
  std::memcpy(address.bytes.data(), data + 1, 16);
  address.port = static_cast<std::uint16_t>(data[17] << 8 | data[18]);
  return address;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size != 2 * address_len) return 0;
  const auto source = address_from(data);
  const auto destination = address_from(data + address_len);

  const auto v1 = forwarder::proxy_header_v1(source, destination);
  // haproxy proxy-protocol.txt §2.1: at most 107 bytes, ending in CRLF.
  require(v1.size() <= 107 && v1.size() >= 2 && v1[v1.size() - 2] == '\r' && v1.back() == '\n');
  const auto v2 = forwarder::proxy_header_v2(source, destination);
  // §2.2: 16 header bytes, then as many as the big-endian length field says.
  require(v2.size() >= 16 && v2.size() == 16u + (v2[14] << 8 | v2[15]));
  require((v2[12] == 0x20) == !forwarder::proxy_addresses_known(source, destination));
  return 0;
}
