#include "tunnel/mac1.hpp"

#include <sodium.h>

namespace mailtun::tunnel {

Mac1Key::Mac1Key(const keys::PublicKey& receiver_static) {
  crypto_generichash_blake2b_state state;
  crypto_generichash_blake2b_init(&state, nullptr, 0, key_.size());
  crypto_generichash_blake2b_update(&state, reinterpret_cast<const std::uint8_t*>(mac1_label.data()),
                                    mac1_label.size());
  crypto_generichash_blake2b_update(&state, receiver_static.bytes().data(), receiver_static.bytes().size());
  crypto_generichash_blake2b_final(&state, key_.data(), key_.size());
}

Mac1 Mac1Key::compute(Bytes covered) const {
  Mac1 mac{};
  crypto_generichash_blake2b(mac.data(), mac.size(), covered.data(), covered.size(), key_.data(), key_.size());
  return mac;
}

bool Mac1Key::verify(Bytes covered, std::span<const std::uint8_t, mac1_len> mac) const {
  const Mac1 expected = compute(covered);
  return sodium_memcmp(expected.data(), mac.data(), mac1_len) == 0;
}

}  // namespace mailtun::tunnel
