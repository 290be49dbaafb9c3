// A peer that holds the right keys but breaks the framing rules: every violation ends the
// connection (DESIGN §4.3), and the local side's streams are reset, not left hanging.

#include <gtest/gtest.h>

#include "tests/unit/tunnel/support/session_pair.hpp"
#include "tunnel/session.hpp"

namespace mailtun::tunnel {
namespace {

using testing::ByteVector;
using testing::Observed;

/// Completes a real handshake against a responder Session, then writes whatever frames it is told.
class RawPeer {
 public:
  RawPeer() : responder_(keys_.vps), session_(Session::accept(responder_, {}, now_)) {
    responder_.add_peer(keys_.office.public_key(), keys_.psk);
    auto initiator = Initiator::start(keys_.office, keys_.vps.public_key(), keys_.psk,
                                      Tai64n::from_system_time(std::chrono::system_clock::now()));
    session_.on_bytes(initiator->initiation(), now_, out_);
    auto transport = initiator->on_response(out_.to_peer);
    EXPECT_TRUE(transport);
    response_size_ = out_.to_peer.size();
    out_.to_peer.clear();
    encoder_.emplace(std::move(transport->send));
    seen_.take(out_);
  }

  /// The message 2 the responder sent.
  [[nodiscard]] std::size_t response_size() const { return response_size_; }

  /// Moves time on; returns what the session sent meanwhile.
  ByteVector tick(std::chrono::milliseconds advance) {
    now_ += advance;
    session_.on_tick(now_, out_);
    ByteVector sent = std::move(out_.to_peer);
    out_.to_peer.clear();
    seen_.take(out_);
    return sent;
  }

  /// Seals `frames` as one record and delivers it.
  void send(const ByteVector& frames) {
    ByteVector wire;
    EXPECT_TRUE(encoder_->seal(frames, wire));
    session_.on_bytes(wire, now_, out_);
    seen_.take(out_);
  }

  Session& session() { return session_; }
  Observed& seen() { return seen_; }

 private:
  testing::Keys keys_;
  TimePoint now_{};
  Responder responder_;
  Session session_;
  Output out_;
  Observed seen_;
  std::optional<RecordEncoder> encoder_;
  std::size_t response_size_ = 0;
};

ByteVector open_frame(StreamId id, std::string service = "lmtp") {
  ByteVector out;
  encode_open(out, id, OpenPayload{std::move(service), {}, {}});
  return out;
}

void expect_protocol_error(RawPeer& peer, errc expected) {
  ASSERT_TRUE(peer.seen().close) << "the connection must end";
  EXPECT_EQ(peer.seen().close->kind, CloseReason::Kind::protocol_error);
  EXPECT_EQ(peer.seen().close->error, expected) << peer.seen().close->error.message();
}

TEST(SessionHostile, TheResponderSaysNothingAfterMessage2UntilConfirmed) {
  RawPeer peer;
  EXPECT_EQ(peer.response_size(), response_wire_len) << "message 2 and nothing else";
  EXPECT_TRUE(peer.tick(std::chrono::milliseconds(4900)).empty());
  EXPECT_FALSE(peer.seen().close);
  EXPECT_TRUE(peer.tick(std::chrono::milliseconds(100)).empty());
  ASSERT_TRUE(peer.seen().close) << "an unconfirmed session ends at the handshake timeout";
  EXPECT_EQ(peer.seen().close->kind, CloseReason::Kind::handshake_timeout);
}

TEST(SessionHostile, AValidOpenIsAccepted) {
  RawPeer peer;
  peer.send(open_frame(1));
  ASSERT_EQ(peer.seen().opened.size(), 1U);
  EXPECT_FALSE(peer.seen().close);
}

TEST(SessionHostile, OpenWithTheResponderParityEndsTheConnection) {
  RawPeer peer;
  peer.send(open_frame(2));
  expect_protocol_error(peer, errc::bad_stream_id);
}

TEST(SessionHostile, ReusedOrDecreasingStreamIdsEndTheConnection) {
  RawPeer peer;
  peer.send(open_frame(5));
  peer.send(open_frame(3));
  expect_protocol_error(peer, errc::bad_stream_id);
  EXPECT_TRUE(peer.seen().resets.contains(5)) << "the stream that was open is reset locally";
}

TEST(SessionHostile, DataForAStreamNeverOpenedEndsTheConnection) {
  RawPeer peer;
  ByteVector frames;
  encode_data(frames, 9, ByteVector{1, 2, 3});
  peer.send(frames);
  expect_protocol_error(peer, errc::bad_stream_id);
}

TEST(SessionHostile, DataAfterFinEndsTheConnection) {
  RawPeer peer;
  ByteVector frames = open_frame(1);
  encode_fin(frames, 1);
  encode_data(frames, 1, ByteVector{1});
  peer.send(frames);
  expect_protocol_error(peer, errc::frame_after_fin);
}

TEST(SessionHostile, UnknownFrameTypeEndsTheConnection) {
  RawPeer peer;
  peer.send(ByteVector{42, 0, 0, 0, 0, 0, 0});
  expect_protocol_error(peer, errc::malformed_frame);
}

TEST(SessionHostile, TruncatedFrameEndsTheConnection) {
  RawPeer peer;
  ByteVector frames;
  encode_data(frames, 1, ByteVector(10));
  frames.resize(frames.size() - 1);
  peer.send(frames);
  expect_protocol_error(peer, errc::malformed_frame);
}

TEST(SessionHostile, BadServiceNamesEndTheConnection) {
  for (const std::string& name : std::vector<std::string>{"", "LMTP", "lmtp smtp", std::string(33, 'a')}) {
    RawPeer peer;
    peer.send(open_frame(1, name));
    ASSERT_TRUE(peer.seen().close) << "service '" << name << "'";
    EXPECT_EQ(peer.seen().close->error, errc::malformed_frame);
  }
}

TEST(SessionHostile, ConnectionFramesOnAStreamEndTheConnection) {
  RawPeer peer;
  ByteVector frames = open_frame(1);
  frames.insert(frames.end(), {6, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1});  // PING on stream 1
  peer.send(frames);
  expect_protocol_error(peer, errc::bad_stream_id);
}

TEST(SessionHostile, AZeroWindowIncrementEndsTheConnection) {
  RawPeer peer;
  ByteVector frames = open_frame(1);
  encode_window(frames, 1, 0);
  peer.send(frames);
  expect_protocol_error(peer, errc::malformed_frame);
}

TEST(SessionHostile, AResetReasonThatIsNotUtf8EndsTheConnection) {
  RawPeer peer;
  ByteVector frames = open_frame(1);
  frames.insert(frames.end(), {5, 0, 0, 0, 1, 0, 4, 0, 9, 0xC3, 0x28});  // RST with "\xC3(" as reason
  peer.send(frames);
  expect_protocol_error(peer, errc::malformed_frame);
}

TEST(SessionHostile, AnOverflowingWindowResetsOnlyThatStream) {
  RawPeer peer;
  ByteVector frames = open_frame(1);
  encode_window(frames, 1, 0xFFFFFFFF);
  peer.send(frames);
  EXPECT_FALSE(peer.seen().close);
  ASSERT_TRUE(peer.seen().resets.contains(1));
  EXPECT_EQ(peer.seen().resets.at(1).code, ResetCode::flow_control);
}

TEST(SessionHostile, AReceiverMayGrantMoreThanTheInitialWindow) {
  RawPeer peer;
  ByteVector frames = open_frame(1);
  encode_window(frames, 1, 1 << 20);
  peer.send(frames);
  EXPECT_FALSE(peer.seen().close);
  EXPECT_EQ(peer.session().send_credit(1), 256U * 1024 + (1U << 20));
}

TEST(SessionHostile, TooManyStreamsGetRst6AndTheConnectionLives) {
  RawPeer peer;
  ByteVector frames;
  for (StreamId id = 1; id < 2 * 1030; id += 2) {
    encode_open(frames, id, OpenPayload{"lmtp", {}, {}});
    if (frames.size() > 60000) {
      peer.send(frames);
      frames.clear();
    }
  }
  peer.send(frames);
  EXPECT_EQ(peer.session().stream_count(), 1024U);
  EXPECT_FALSE(peer.seen().close);
}

}  // namespace
}  // namespace mailtun::tunnel
