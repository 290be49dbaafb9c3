// Fuzz target: a Session (DESIGN §4) after a real handshake, fed whatever a peer holding valid keys
// could send, interleaved with what the local side does. The input is a list of steps
// `u8 op | u16 length | length bytes`:
//   op 0: the bytes are one record plaintext (frames), sealed and delivered the way the shell reads
//         records, into Session::receive_space(); a REKEY frame in it switches this side's keys
//         too, as a conforming peer would;
//   op 1: the bytes are delivered raw, unsealed (garbage or a record split by hand), to on_bytes();
//   op 2: time moves on by `length` milliseconds;
//   op 3: the local side sends the bytes on the newest stream the peer opened;
//   op 4: the local side finishes the newest stream, or resets it if length is odd;
//   op 5: the local side opens a stream of its own;
//   op 6: the local side shuts down (GOAWAY) if length is even, or retires the connection after a
//         session refresh if it is odd, with `length` milliseconds to drain.
// Received data is consumed at once, as the splice does once the local socket took it.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <variant>

#include "tests/fuzz/fixed_keys.hpp"
#include "tunnel/frame.hpp"
#include "tunnel/record.hpp"
#include "tunnel/session.hpp"

using namespace mailtun;
using namespace mailtun::tunnel;

namespace {

class Run {
 public:
  Run() : responder_(keys_.vps), session_(Session::accept(responder_, {}, now_)) {
    responder_.add_peer(keys_.office.public_key(), keys_.psk);
    auto initiator = Initiator::start(keys_.office, keys_.vps.public_key(), keys_.psk,
                                      fuzz::fixed_timestamp(), keys_.office_ephemeral());
    session_.on_bytes(initiator->initiation(), now_, out_);
    auto transport = initiator->on_response(out_.to_peer);
    if (!transport) std::abort();
    encoder_.emplace(std::move(transport->send));
    settle();
  }

  [[nodiscard]] bool closed() const { return closed_; }

  void step(std::uint8_t op, Bytes bytes) {
    switch (op % 7) {
      case 0: deliver_record(bytes); break;
      case 1: session_.on_bytes(bytes, now_, out_); break;
      case 2:
        now_ += std::chrono::milliseconds(bytes.size());
        session_.on_tick(now_, out_);
        break;
      case 3:
        if (newest_) (void)session_.send(*newest_, bytes, now_, out_);
        break;
      case 4:
        if (newest_ && bytes.size() % 2 == 0) session_.finish(*newest_, now_, out_);
        if (newest_ && bytes.size() % 2 == 1) session_.reset(*newest_, ResetCode::internal, "fuzz", now_, out_);
        break;
      case 5: (void)session_.open_stream(OpenPayload{.service = "lmtp"}, now_, out_); break;
      case 6:
        if (bytes.size() % 2 == 0) session_.go_away(std::chrono::milliseconds(bytes.size()), now_, out_);
        if (bytes.size() % 2 == 1) session_.retire(std::chrono::milliseconds(bytes.size()), now_, out_);
        break;
    }
    settle();
  }

 private:
  void deliver_record(Bytes plaintext) {
    std::vector<std::uint8_t> wire;
    if (!encoder_->seal(plaintext, wire)) return;  // empty or too long: not a record a peer can seal
    const MutableBytes room = session_.receive_space(wire.size());
    if (room.size() >= wire.size()) {
      std::copy(wire.begin(), wire.end(), room.begin());
      session_.on_received(wire.size(), now_, out_);
    } else {
      session_.on_bytes(wire, now_, out_);  // closed: the shell would not read at all
    }
    FrameReader reader(plaintext);
    for (auto frame = reader.next(); frame && *frame; frame = reader.next()) {
      if ((*frame)->type == FrameType::rekey) encoder_->rekey();
    }
  }

  // Hands the session's events to a local side that consumes every byte and remembers the newest
  // stream the peer opened.
  void settle() {
    for (int round = 0; round < 16 && !out_.events.empty(); ++round) {
      auto events = std::move(out_.events);
      out_.events.clear();
      for (auto& event : events) {
        if (auto* opened = std::get_if<StreamOpened>(&event)) newest_ = opened->id;
        if (auto* data = std::get_if<StreamData>(&event)) session_.consumed(data->id, data->data.size(), now_, out_);
      }
    }
    out_.events.clear();
    out_.to_peer.clear();
    if (out_.close) closed_ = true;
  }

  // Shared by every run: keys in guarded memory cost a few system calls each to make.
  static inline const fuzz::FixedKeys keys_;
  TimePoint now_ = TimePoint{} + std::chrono::hours(1);
  Responder responder_;
  Session session_;
  Output out_;
  std::optional<RecordEncoder> encoder_;
  std::optional<StreamId> newest_;
  bool closed_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Run run;
  std::size_t pos = 0;
  while (pos + 3 <= size && !run.closed()) {
    const std::uint8_t op = data[pos];
    const std::size_t length = std::min<std::size_t>(data[pos + 1] << 8 | data[pos + 2], size - pos - 3);
    run.step(op, Bytes(data + pos + 3, length));
    pos += 3 + length;
  }
  return 0;
}
