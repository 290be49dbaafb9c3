#pragma once

namespace mailtun::keys {

/// Initialises libsodium once per process (thread-safe, idempotent). Every function that touches
/// libsodium's RNG or guarded memory calls it first; throws std::runtime_error if the library cannot
/// start, which only happens when the system has no usable entropy source.
void ensure_sodium();

}  // namespace mailtun::keys
