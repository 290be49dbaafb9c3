// Fuzz target: the frame reader and every payload decoder (DESIGN §4.3) on an arbitrary record
// plaintext. Whatever decodes must survive re-encoding unchanged.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "tunnel/frame.hpp"

using namespace mailtun::tunnel;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

void decode_payload(const Frame& frame) {
  switch (frame.type) {
    case FrameType::open:
      if (auto open = decode_open(frame.payload)) {
        require(valid_service_name(open->service));
        std::vector<std::uint8_t> encoded;
        encode_open(encoded, frame.stream_id, *open);
        require(encoded.size() == open_frame_len(*open));
        auto again = FrameReader(encoded).next();
        require(again && *again && decode_open((*again)->payload) == open);
      }
      break;
    case FrameType::window:
      (void)decode_window(frame.payload);
      break;
    case FrameType::rst:
      if (auto rst = decode_rst(frame.payload)) require(rst->reason.size() <= max_reset_reason_len);
      break;
    case FrameType::ping:
    case FrameType::pong:
      (void)decode_ping(frame.payload);
      break;
    case FrameType::goaway:
      (void)decode_goaway(frame.payload);
      break;
    case FrameType::fin:
    case FrameType::rekey:
      (void)decode_empty(frame.payload);
      break;
    case FrameType::data:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FrameReader reader(Bytes(data, size));
  std::size_t consumed = 0;
  for (;;) {
    auto frame = reader.next();
    if (!frame || !*frame) break;
    consumed += frame_header_len + (*frame)->payload.size();
    require(consumed <= size);
    decode_payload(**frame);
  }
  return 0;
}
