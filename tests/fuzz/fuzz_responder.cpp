// Fuzz target: the responder's handling of message 1 (DESIGN §4.1) with a fixed key set. The
// first input byte says whether to repair mac1, so the fuzzer explores both the cheap checks and
// the Noise processing behind them.
#include <cstdint>
#include <cstdlib>

#include "tests/fuzz/fixed_keys.hpp"

using namespace mailtun;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fuzz::FixedKeys keys;
  if (size < 1) return 0;
  const bool repair_mac1 = data[0] & 1;
  std::vector<std::uint8_t> message(data + 1, data + size);
  if (repair_mac1) message = fuzz::with_valid_mac1(data + 1, size - 1, keys.vps.public_key());

  tunnel::Responder responder(keys.vps);
  responder.add_peer(keys.office.public_key(), keys.psk);
  auto accepted = responder.on_initiation(message, fuzz::fixed_latest(), {}, keys.vps_ephemeral());
  if (accepted) {
    if (accepted->peer != 0 || accepted->response.size() != tunnel::response_wire_len) std::abort();
    // Once its session is confirmed, the same message again is a replay (before, it guards nothing:
    // Responder::on_initiation says why).
    responder.confirm(accepted->peer, accepted->timestamp);
    if (responder.on_initiation(message, fuzz::fixed_latest())) std::abort();
  }
  return 0;
}
