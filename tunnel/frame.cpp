#include "tunnel/frame.hpp"

#include <algorithm>

namespace mailtun::tunnel {
namespace {

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

void put_u64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

void put_header(std::vector<std::uint8_t>& out, FrameType type, StreamId id, std::size_t payload_len) {
  out.push_back(static_cast<std::uint8_t>(type));
  put_u32(out, id);
  put_u16(out, static_cast<std::uint16_t>(payload_len));
}

/// Big-endian reads over a payload; any read past the end marks the reader failed.
class Cursor {
 public:
  explicit Cursor(Bytes bytes) : rest_(bytes) {}
  std::uint64_t uint(std::size_t n) {
    if (!ok_ || rest_.size() < n) {
      ok_ = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | rest_[i];
    rest_ = rest_.subspan(n);
    return v;
  }
  Bytes take(std::size_t n) {
    if (!ok_ || rest_.size() < n) {
      ok_ = false;
      return {};
    }
    const Bytes head = rest_.first(n);
    rest_ = rest_.subspan(n);
    return head;
  }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] bool done() const { return ok_ && rest_.empty(); }

 private:
  Bytes rest_;
  bool ok_ = true;
};

std::size_t address_len(std::uint8_t family) { return family == 4 ? 4 : family == 6 ? 16 : 0; }

bool read_address(Cursor& c, std::uint8_t family, Address& out) {
  out.family = family;
  const Bytes addr = c.take(address_len(family));
  std::ranges::copy(addr, out.bytes.begin());
  out.port = static_cast<std::uint16_t>(c.uint(2));
  return c.ok();
}

void put_address(std::vector<std::uint8_t>& out, const Address& a) {
  out.insert(out.end(), a.bytes.begin(), a.bytes.begin() + static_cast<std::ptrdiff_t>(address_len(a.family)));
  put_u16(out, a.port);
}

// Cuts at most `max` bytes without splitting a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

bool valid_utf8(Bytes b) {
  std::size_t i = 0;
  while (i < b.size()) {
    const std::uint8_t c = b[i];
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= b.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= extra; ++k) {
      if ((b[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    constexpr std::uint32_t min_for[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_for[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

}  // namespace

std::string_view to_string(ResetCode code) {
  switch (code) {
    case ResetCode::unknown_service: return "unknown service";
    case ResetCode::not_allowed: return "not allowed for this peer";
    case ResetCode::backend_unreachable: return "backend unreachable";
    case ResetCode::backend_refused: return "backend refused";
    case ResetCode::flow_control: return "flow-control violation";
    case ResetCode::too_many_streams: return "too many streams";
    case ResetCode::going_away: return "going away";
    case ResetCode::protocol_error: return "protocol error";
    case ResetCode::internal: return "internal error";
  }
  return "unknown reset code";
}

Result<std::optional<Frame>> FrameReader::next() {
  if (rest_.empty()) return std::nullopt;
  if (rest_.size() < frame_header_len) return fail(errc::malformed_frame);
  const std::uint8_t type = rest_[0];
  if (type < static_cast<std::uint8_t>(FrameType::open) || type > static_cast<std::uint8_t>(FrameType::goaway))
    return fail(errc::malformed_frame);
  const StreamId id = (StreamId{rest_[1]} << 24) | (StreamId{rest_[2]} << 16) | (StreamId{rest_[3]} << 8) | rest_[4];
  const std::size_t len = (std::size_t{rest_[5]} << 8) | rest_[6];
  if (rest_.size() < frame_header_len + len) return fail(errc::malformed_frame);
  Frame frame{static_cast<FrameType>(type), id, rest_.subspan(frame_header_len, len)};
  rest_ = rest_.subspan(frame_header_len + len);
  return frame;
}

bool valid_service_name(std::string_view name) {
  return !name.empty() && name.size() <= max_service_name_len && std::ranges::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

Result<OpenPayload> decode_open(Bytes payload) {
  Cursor c(payload);
  const std::size_t name_len = c.uint(1);
  const Bytes name = c.take(name_len);
  OpenPayload open;
  open.service.assign(name.begin(), name.end());
  const auto family = static_cast<std::uint8_t>(c.uint(1));
  if (!c.ok() || !valid_service_name(open.service)) return fail(errc::malformed_frame);
  if (family != 0 && family != 4 && family != 6) return fail(errc::malformed_frame);
  if (!read_address(c, family, open.source) || !read_address(c, family, open.destination) || !c.done())
    return fail(errc::malformed_frame);
  return open;
}

Result<std::uint32_t> decode_window(Bytes payload) {
  Cursor c(payload);
  const auto increment = static_cast<std::uint32_t>(c.uint(4));
  if (!c.done() || increment == 0) return fail(errc::malformed_frame);
  return increment;
}

Result<ResetPayload> decode_rst(Bytes payload) {
  Cursor c(payload);
  const auto code = static_cast<std::uint16_t>(c.uint(2));
  if (!c.ok() || payload.size() - 2 > max_reset_reason_len) return fail(errc::malformed_frame);
  const Bytes reason = payload.subspan(2);
  if (!valid_utf8(reason)) return fail(errc::malformed_frame);
  // Unknown codes from a newer peer are kept as they are; the receiver treats them like internal.
  return ResetPayload{static_cast<ResetCode>(code), std::string(reason.begin(), reason.end())};
}

Result<std::uint64_t> decode_ping(Bytes payload) {
  Cursor c(payload);
  const std::uint64_t v = c.uint(8);
  if (!c.done()) return fail(errc::malformed_frame);
  return v;
}

Result<GoawayPayload> decode_goaway(Bytes payload) {
  Cursor c(payload);
  const auto last = static_cast<StreamId>(c.uint(4));
  const auto code = static_cast<std::uint16_t>(c.uint(2));
  if (!c.done()) return fail(errc::malformed_frame);
  return GoawayPayload{last, code};
}

Result<void> decode_empty(Bytes payload) {
  if (!payload.empty()) return fail(errc::malformed_frame);
  return {};
}

std::size_t open_frame_len(const OpenPayload& open) {
  return frame_header_len + 1 + open.service.size() + 1 + 2 * (address_len(open.source.family) + 2);
}

void encode_open(std::vector<std::uint8_t>& out, StreamId id, const OpenPayload& open) {
  put_header(out, FrameType::open, id, open_frame_len(open) - frame_header_len);
  out.push_back(static_cast<std::uint8_t>(open.service.size()));
  out.insert(out.end(), open.service.begin(), open.service.end());
  out.push_back(open.source.family);
  put_address(out, open.source);
  Address destination = open.destination;
  destination.family = open.source.family;  // one family field covers both addresses
  put_address(out, destination);
}

void encode_data(std::vector<std::uint8_t>& out, StreamId id, Bytes data) {
  put_header(out, FrameType::data, id, data.size());
  out.insert(out.end(), data.begin(), data.end());
}

std::array<std::uint8_t, frame_header_len> data_frame_header(StreamId id, std::size_t payload_len) {
  // The layout of put_header, without a vector: this runs once per record on the bulk path.
  return {static_cast<std::uint8_t>(FrameType::data), static_cast<std::uint8_t>(id >> 24),
          static_cast<std::uint8_t>(id >> 16),        static_cast<std::uint8_t>(id >> 8),
          static_cast<std::uint8_t>(id),              static_cast<std::uint8_t>(payload_len >> 8),
          static_cast<std::uint8_t>(payload_len)};
}

void encode_window(std::vector<std::uint8_t>& out, StreamId id, std::uint32_t increment) {
  put_header(out, FrameType::window, id, 4);
  put_u32(out, increment);
}

void encode_fin(std::vector<std::uint8_t>& out, StreamId id) { put_header(out, FrameType::fin, id, 0); }

void encode_rst(std::vector<std::uint8_t>& out, StreamId id, ResetCode code, std::string_view reason) {
  const std::string_view cut = utf8_prefix(reason, max_reset_reason_len);
  put_header(out, FrameType::rst, id, 2 + cut.size());
  put_u16(out, static_cast<std::uint16_t>(code));
  out.insert(out.end(), cut.begin(), cut.end());
}

void encode_ping(std::vector<std::uint8_t>& out, FrameType ping_or_pong, std::uint64_t opaque) {
  put_header(out, ping_or_pong, 0, 8);
  put_u64(out, opaque);
}

void encode_rekey(std::vector<std::uint8_t>& out) { put_header(out, FrameType::rekey, 0, 0); }

void encode_goaway(std::vector<std::uint8_t>& out, StreamId last_stream_id, std::uint16_t code) {
  put_header(out, FrameType::goaway, 0, 6);
  put_u32(out, last_stream_id);
  put_u16(out, code);
}

}  // namespace mailtun::tunnel
