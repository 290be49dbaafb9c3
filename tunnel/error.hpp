#pragma once
// Every way the tunnel core can refuse input. The core never throws for anything a peer can cause;
// it returns Result<T> carrying one of these, and the I/O shell turns it into a CloseReason.

#include <system_error>

#include <tl/expected.hpp>

namespace mailtun::tunnel {

enum class errc {
  // Handshake envelope (DESIGN §4.1). Each of these closes the connection without a reply.
  bad_length = 1,        // message length field or size does not match the message type
  bad_type,              // type byte is not the expected message type, or reserved bytes are not zero
  bad_mac1,              // mac1 does not authenticate the message for our static key
  decrypt_failed,        // an AEAD tag did not verify
  unknown_peer,          // initiator static key is not a configured peer
  replayed_timestamp,    // TAI64N timestamp not greater than the last one accepted from that peer
  timestamp_in_future,   // TAI64N timestamp further ahead of our clock than the tolerated skew
  weak_public_key,       // Diffie-Hellman gave the all-zero result (low-order point)
  rate_limited,          // the message's source is over the handshake rate (docs/design.md, "Handshake floods")
  // Records (DESIGN §4.2).
  record_too_long,       // plaintext or ciphertext over the record limit
  record_too_short,      // ciphertext shorter than an AEAD tag
  nonce_exhausted,       // the 64-bit nonce reached 2^64-1; the connection must end
  // Frames and streams (DESIGN §4.3). Each is a protocol error that ends the connection.
  malformed_frame,       // truncated, unknown type, or a payload of the wrong shape
  bad_stream_id,         // wrong parity, not increasing, 0 where a stream is needed, or unknown
  frame_after_fin,       // DATA or FIN after the peer's FIN on that stream
  stream_limit,          // max_streams open, or the stream ids of this connection are used up
  // Local misuse of the core (a bug in the caller, never peer input).
  invalid_state,
};

const std::error_category& tunnel_category() noexcept;
std::error_code make_error_code(errc e) noexcept;

template <typename T>
using Result = tl::expected<T, std::error_code>;

/// `return fail(errc::bad_mac1);` in a function returning Result<T>.
inline tl::unexpected<std::error_code> fail(errc e) { return tl::unexpected(make_error_code(e)); }

}  // namespace mailtun::tunnel

template <>
struct std::is_error_code_enum<mailtun::tunnel::errc> : std::true_type {};
