#pragma once
// DESIGN §4.3 frames: `u8 type | u32 stream_id | u16 payload_length | payload`, one or more per
// record plaintext, never spanning records. Decoding is pure and strict: anything malformed is an
// error (the session ends the connection), never an exception.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tunnel/chacha_poly.hpp"
#include "tunnel/constants.hpp"
#include "tunnel/error.hpp"

namespace mailtun::tunnel {

using StreamId = std::uint32_t;

enum class FrameType : std::uint8_t {
  open = 1,
  data = 2,
  window = 3,
  fin = 4,
  rst = 5,
  ping = 6,
  pong = 7,
  rekey = 8,
  goaway = 9,
};

/// RST codes (DESIGN §4.3). Stable on the wire: never renumber.
enum class ResetCode : std::uint16_t {
  unknown_service = 1,
  not_allowed = 2,
  backend_unreachable = 3,
  backend_refused = 4,
  flow_control = 5,
  too_many_streams = 6,
  going_away = 7,
  protocol_error = 8,
  internal = 9,
};
std::string_view to_string(ResetCode code);

inline constexpr std::size_t frame_header_len = 7;
/// The most stream data one DATA frame can carry so that it fills a record alone: a local read of a
/// multiple of this becomes whole records, none of them a small remainder.
inline constexpr std::size_t max_data_per_record = max_record_plaintext - frame_header_len;  // 65512
inline constexpr std::size_t max_service_name_len = 32;
inline constexpr std::size_t max_reset_reason_len = 200;

/// One decoded frame; `payload` points into the record plaintext it came from.
struct Frame {
  FrameType type;
  StreamId stream_id;
  Bytes payload;
};

/// Splits one record plaintext into frames. Errors (errc::malformed_frame): a truncated header or
/// payload, an unknown type. Payload contents are checked by the payload decoders below.
class FrameReader {
 public:
  explicit FrameReader(Bytes plaintext) : rest_(plaintext) {}
  /// The next frame, std::nullopt at the end of the plaintext.
  Result<std::optional<Frame>> next();

 private:
  Bytes rest_;
};

/// The client connection's addresses carried in OPEN, for the PROXY protocol header.
struct Address {
  std::uint8_t family = 0;  // 0 unknown, 4 IPv4, 6 IPv6
  std::array<std::uint8_t, 16> bytes{};  // network order; the first 4 for IPv4
  std::uint16_t port = 0;
  friend bool operator==(const Address&, const Address&) = default;
};

struct OpenPayload {
  std::string service;  // 1–32 of [a-z0-9-]
  Address source;       // the client that connected to the forward
  Address destination;  // the forward's listening address as the client saw it
  friend bool operator==(const OpenPayload&, const OpenPayload&) = default;
};

struct ResetPayload {
  ResetCode code;
  std::string reason;  // UTF-8, at most 200 bytes; may be empty
};

struct GoawayPayload {
  StreamId last_stream_id;
  std::uint16_t code;
};

/// True for 1–32 characters of [a-z0-9-] (DESIGN §4.3; also what configuration accepts).
bool valid_service_name(std::string_view name);

// Payload decoders: each rejects a payload of the wrong size or content with errc::malformed_frame.
Result<OpenPayload> decode_open(Bytes payload);
Result<std::uint32_t> decode_window(Bytes payload);
Result<ResetPayload> decode_rst(Bytes payload);
Result<std::uint64_t> decode_ping(Bytes payload);  // PING and PONG
Result<GoawayPayload> decode_goaway(Bytes payload);
/// FIN and REKEY carry nothing.
Result<void> decode_empty(Bytes payload);

// Encoders append one whole frame to `out`. DATA payloads must be ≤ 65535 bytes; callers keep
// frames within one record (max_record_plaintext).
void encode_open(std::vector<std::uint8_t>& out, StreamId id, const OpenPayload& open);
void encode_data(std::vector<std::uint8_t>& out, StreamId id, Bytes data);
/// The header alone of a DATA frame, for a payload sealed where it lies (RecordEncoder::seal(head, body)).
std::array<std::uint8_t, frame_header_len> data_frame_header(StreamId id, std::size_t payload_len);
void encode_window(std::vector<std::uint8_t>& out, StreamId id, std::uint32_t increment);
void encode_fin(std::vector<std::uint8_t>& out, StreamId id);
/// A reason longer than 200 bytes is cut at a UTF-8 character boundary.
void encode_rst(std::vector<std::uint8_t>& out, StreamId id, ResetCode code, std::string_view reason = {});
void encode_ping(std::vector<std::uint8_t>& out, FrameType ping_or_pong, std::uint64_t opaque);
void encode_rekey(std::vector<std::uint8_t>& out);
void encode_goaway(std::vector<std::uint8_t>& out, StreamId last_stream_id, std::uint16_t code);

/// Encoded size of an OPEN frame, for packing records.
std::size_t open_frame_len(const OpenPayload& open);

}  // namespace mailtun::tunnel
