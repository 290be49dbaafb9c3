#include "keys/sodium.hpp"

#include <sodium.h>

#include <stdexcept>

namespace mailtun::keys {

void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium failed to initialise");
}

}  // namespace mailtun::keys
