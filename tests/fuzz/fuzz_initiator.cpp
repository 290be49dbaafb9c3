// Fuzz target: the initiator's handling of message 2 (DESIGN §4.1) with a fixed key set and a
// fixed message 1. The first input byte says whether to repair mac1.
#include <cstdint>
#include <cstdlib>

#include "tests/fuzz/fixed_keys.hpp"

using namespace mailtun;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fuzz::FixedKeys keys;
  if (size < 1) return 0;
  const bool repair_mac1 = data[0] & 1;
  std::vector<std::uint8_t> message(data + 1, data + size);
  if (repair_mac1) message = fuzz::with_valid_mac1(data + 1, size - 1, keys.office.public_key());

  auto initiator = tunnel::Initiator::start(keys.office, keys.vps.public_key(), keys.psk,
                                            fuzz::fixed_timestamp(), keys.office_ephemeral());
  if (!initiator) std::abort();
  auto transport = initiator->on_response(message);
  // A second message 2 on a finished handshake is refused, whatever the first did.
  if (transport && initiator->on_response(message)) std::abort();
  return 0;
}
