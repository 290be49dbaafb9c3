#pragma once
// The text form of keys (DESIGN §3): standard base64 with padding, exactly what `wg genkey`,
// `wg genpsk` and `wg pubkey` print — 44 characters, the last one '=', encoding 32 bytes.
//
// The parsers never throw for bad text (only std::bad_alloc if guarded memory runs out) and never
// quote the input in their messages: a mistyped private key is still mostly a private key.

#include <cstddef>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "keys/key.hpp"

namespace mailtun::keys {

/// Length of a key in base64: 4 * ceil(32 / 3).
inline constexpr std::size_t base64_key_length = 44;

/// A parsed value, or a message saying what was expected and what was found instead, e.g.
/// "expected 44 base64 characters encoding 32 bytes, got 43 characters". Messages start with
/// "expected" so callers can prefix where the text came from ("/etc/mailtun/vps.key: expected …").
template <typename T>
using ParseResult = tl::expected<T, std::string>;

/// Encodes 32 bytes as 44 base64 characters (no newline). For a secret the caller owns the returned
/// copy and should wipe it (sodium_memzero) once written out.
[[nodiscard]] std::string to_base64(KeySpan key);

/// Decodes 44 base64 characters into 32 bytes of guarded memory. Surrounding whitespace (spaces,
/// tabs, a trailing newline or CRLF, as when a line is read from a file or a pipe) is ignored;
/// anything else — whitespace inside, characters outside the standard alphabet (base64url's '-' and
/// '_' included), missing or misplaced '=', too few or too many characters, or bits set in the last
/// character that encode nothing (a non-canonical encoding, which `wg` also refuses) — is an error.
[[nodiscard]] ParseResult<GuardedKey> decode_base64_key(std::string_view text);

/// As decode_base64_key, clamped. Unclamped input is accepted (as `wg pubkey` accepts it): X25519
/// clamps its scalar anyway, so the public key is the same. Messages read "expected a base64
/// private key of 44 characters (as printed by `mailtun genkey`), got …".
[[nodiscard]] ParseResult<PrivateKey> parse_private_key(std::string_view text);

/// As decode_base64_key. Any 32 bytes are accepted, as by `wg`: a public key that is a low-order
/// point is caught by the handshake, whose Diffie-Hellman result is then all zero.
[[nodiscard]] ParseResult<PublicKey> parse_public_key(std::string_view text);

/// As decode_base64_key. The all-zero key is accepted; it is what "no PSK" means (DESIGN §4.1).
[[nodiscard]] ParseResult<PresharedKey> parse_preshared_key(std::string_view text);

}  // namespace mailtun::keys
