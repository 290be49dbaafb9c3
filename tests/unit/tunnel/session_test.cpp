#include "tunnel/session.hpp"

#include <gtest/gtest.h>

#include <random>

#include "tests/unit/tunnel/support/session_pair.hpp"

namespace mailtun::tunnel {
namespace {

using namespace std::chrono_literals;
using testing::ByteVector;
using testing::SessionPair;

OpenPayload lmtp() {
  OpenPayload open;
  open.service = "lmtp";
  open.source = {4, {127, 0, 0, 1}, 40000};
  open.destination = {4, {127, 0, 0, 1}, 24};
  return open;
}

ByteVector bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

StreamId open_on_a(SessionPair& p) {
  auto id = p.on_a([&](Session& s, Output& out) { return s.open_stream(lmtp(), p.now, out); });
  EXPECT_TRUE(id) << id.error().message();
  return *id;
}

TEST(Session, HandshakeEstablishesBothSidesAndTheInitiatorConfirmsAtOnce) {
  SessionPair p;
  EXPECT_FALSE(p.a().established());
  p.handshake();
  EXPECT_TRUE(p.seen_by_a().established);
  EXPECT_TRUE(p.seen_by_b().established);
  EXPECT_TRUE(p.seen_by_b().confirmed) << "the initiator's first record confirms the session";
  EXPECT_TRUE(p.a().ready());
  EXPECT_TRUE(p.b().ready());
  EXPECT_EQ(p.b().peer(), 0U);
}

TEST(Session, OpensAStreamWithNoRoundTripAndCarriesDataBothWays) {
  SessionPair p;
  p.handshake();
  const StreamId id = open_on_a(p);
  EXPECT_EQ(id % 2, 1U) << "initiator ids are odd";
  // Client data goes out before the peer has said anything about the stream.
  const ByteVector hello = bytes_of("LHLO office\r\n");
  EXPECT_EQ(p.on_a([&](Session& s, Output& out) { return s.send(id, hello, p.now, out); }), hello.size());
  p.deliver();
  ASSERT_EQ(p.seen_by_b().opened.size(), 1U);
  EXPECT_EQ(p.seen_by_b().opened[0].id, id);
  EXPECT_EQ(p.seen_by_b().opened[0].open, lmtp());
  EXPECT_EQ(p.seen_by_b().data[id], hello);

  const ByteVector reply = bytes_of("250 ok\r\n");
  p.on_b([&](Session& s, Output& out) { s.send(id, reply, p.now, out); });
  p.deliver();
  EXPECT_EQ(p.seen_by_a().data[id], reply);
}

TEST(Session, HalfCloseInEachDirectionThenTheStreamIsGoneOnBothSides) {
  SessionPair p;
  p.handshake();
  const StreamId id = open_on_a(p);
  p.on_a([&](Session& s, Output& out) { s.finish(id, p.now, out); });
  p.deliver();
  EXPECT_TRUE(p.seen_by_b().fins.contains(id));
  // The other direction still works after the client's half-close.
  const ByteVector reply = bytes_of("221 bye\r\n");
  EXPECT_EQ(p.on_b([&](Session& s, Output& out) { return s.send(id, reply, p.now, out); }), reply.size());
  EXPECT_EQ(p.on_a([&](Session& s, Output& out) { return s.send(id, reply, p.now, out); }), 0U)
      << "no data after our own FIN";
  p.on_b([&](Session& s, Output& out) { s.finish(id, p.now, out); });
  p.deliver();
  EXPECT_EQ(p.seen_by_a().data[id], reply);
  EXPECT_TRUE(p.seen_by_a().fins.contains(id));
  EXPECT_EQ(p.a().stream_count(), 0U);
  EXPECT_EQ(p.b().stream_count(), 0U);
}

TEST(Session, SendStopsAtTheWindowAndResumesWhenTheReceiverConsumes) {
  SessionLimits limits;
  limits.initial_window = 64 * 1024;
  limits.max_window = limits.initial_window;  // a fixed window here; SessionWindowGrowth grows it
  SessionPair p(limits, limits);
  p.handshake();
  const StreamId id = open_on_a(p);
  const ByteVector big(200 * 1024, 0x5a);
  std::size_t sent = p.on_a([&](Session& s, Output& out) { return s.send(id, big, p.now, out); });
  EXPECT_EQ(sent, limits.initial_window);
  EXPECT_EQ(p.a().send_credit(id), 0U);
  p.deliver();
  EXPECT_EQ(p.seen_by_b().data[id].size(), limits.initial_window);

  // Nothing consumed yet: still no credit.
  EXPECT_EQ(p.on_a([&](Session& s, Output& out) { return s.send(id, big, p.now, out); }), 0U);
  p.on_b([&](Session& s, Output& out) { s.consumed(id, 10 * 1024, p.now, out); });
  p.deliver();
  EXPECT_TRUE(p.seen_by_a().writable.empty()) << "credit is returned in quarters of the window";
  p.on_b([&](Session& s, Output& out) { s.consumed(id, 6 * 1024, p.now, out); });
  p.deliver();
  ASSERT_EQ(p.seen_by_a().writable.size(), 1U);
  EXPECT_EQ(p.a().send_credit(id), 16U * 1024);
  sent += p.on_a([&](Session& s, Output& out) { return s.send(id, Bytes(big).subspan(sent), p.now, out); });
  EXPECT_EQ(sent, limits.initial_window + 16 * 1024);
}

TEST(Session, DataBeyondTheWindowResetsOnlyThatStream) {
  SessionLimits generous, strict;
  generous.initial_window = 8192;
  strict.initial_window = 4096;
  SessionPair p(generous, strict);  // a believes it may send twice what b allows
  p.handshake();
  const StreamId bad = open_on_a(p), good = open_on_a(p);
  p.on_a([&](Session& s, Output& out) { s.send(bad, ByteVector(6000, 1), p.now, out); });
  p.on_a([&](Session& s, Output& out) { s.send(good, ByteVector(100, 2), p.now, out); });
  p.deliver();
  ASSERT_TRUE(p.seen_by_b().resets.contains(bad));
  EXPECT_EQ(p.seen_by_b().resets.at(bad).code, ResetCode::flow_control);
  ASSERT_TRUE(p.seen_by_a().resets.contains(bad));
  EXPECT_EQ(p.seen_by_a().resets.at(bad).code, ResetCode::flow_control);
  EXPECT_TRUE(p.seen_by_a().resets.at(bad).by_peer);
  EXPECT_EQ(p.seen_by_b().data[good].size(), 100U);
  EXPECT_FALSE(p.seen_by_b().close);
  EXPECT_EQ(p.b().stream_count(), 1U);
}

TEST(Session, StreamsBeyondThePeersLimitGetRst6) {
  SessionLimits a_limits, b_limits;
  b_limits.max_streams = 2;
  SessionPair p(a_limits, b_limits);
  p.handshake();
  const StreamId s1 = open_on_a(p), s2 = open_on_a(p), s3 = open_on_a(p);
  p.deliver();
  EXPECT_EQ(p.seen_by_b().opened.size(), 2U);
  EXPECT_FALSE(p.seen_by_a().resets.contains(s1));
  EXPECT_FALSE(p.seen_by_a().resets.contains(s2));
  ASSERT_TRUE(p.seen_by_a().resets.contains(s3));
  EXPECT_EQ(p.seen_by_a().resets.at(s3).code, ResetCode::too_many_streams);
}

TEST(Session, StreamLimitsCountEachDirectionApart) {
  SessionLimits small;
  small.max_streams = 2;
  SessionPair p(small, small);
  p.handshake();
  open_on_a(p);
  open_on_a(p);
  p.deliver();
  // b carries two streams a opened; its own opens are counted apart and still allowed.
  for (int i = 0; i < 2; ++i) {
    auto id = p.on_b([&](Session& s, Output& out) { return s.open_stream(lmtp(), p.now, out); });
    EXPECT_TRUE(id) << "b's stream " << i;
  }
  p.deliver();
  EXPECT_EQ(p.seen_by_a().opened.size(), 2U);
  EXPECT_TRUE(p.seen_by_a().resets.empty());
  EXPECT_EQ(p.b().stream_count(), 4U);
}

TEST(Session, LocalStreamLimitRefusesToOpen) {
  SessionLimits small;
  small.max_streams = 1;
  SessionPair p(small, small);
  p.handshake();
  open_on_a(p);
  auto second = p.on_a([&](Session& s, Output& out) { return s.open_stream(lmtp(), p.now, out); });
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), errc::stream_limit);
}

TEST(Session, TheResponderOpensEvenStreamsToo) {
  SessionPair p;
  p.handshake();
  OpenPayload relay = lmtp();
  relay.service = "relay";
  auto id = p.on_b([&](Session& s, Output& out) { return s.open_stream(relay, p.now, out); });
  ASSERT_TRUE(id);
  EXPECT_EQ(*id % 2, 0U);
  p.deliver();
  ASSERT_EQ(p.seen_by_a().opened.size(), 1U);
  EXPECT_EQ(p.seen_by_a().opened[0].open.service, "relay");
}

TEST(Session, KeepalivePingsAfterSilenceAndTheAnswerKeepsItAlive) {
  SessionPair p;
  p.handshake();
  for (int i = 0; i < 10; ++i) {
    p.tick(15s);
    p.deliver();
  }
  EXPECT_FALSE(p.seen_by_a().close);
  EXPECT_FALSE(p.seen_by_b().close);
  EXPECT_GT(p.a().stats().records_out, 5U) << "pings were sent";
}

TEST(Session, EachSideMeasuresTheRoundTripFromItsPingsPong) {
  SessionPair p;
  EXPECT_FALSE(p.a().stats().rtt);
  p.handshake();
  // Both sides ping as the session starts (the initiator to confirm, the responder once confirmed).
  ASSERT_TRUE(p.a().stats().rtt);
  ASSERT_TRUE(p.b().stats().rtt);
  EXPECT_EQ(*p.a().stats().rtt, 0us);
  p.tick(15s);  // silence: both send a keepalive PING
  p.now += 7ms;  // the PINGs take 7 ms to be answered
  p.deliver();
  EXPECT_EQ(*p.a().stats().rtt, 7ms);
  EXPECT_EQ(*p.b().stats().rtt, 7ms);
}

TEST(Session, ASilentPeerIsDeadAfterThreeKeepalivesAndItsStreamsAreReset) {
  SessionPair p;
  p.handshake();
  const StreamId id = open_on_a(p);
  p.deliver();
  p.tick(15s);  // a pings; b never answers (nothing delivered)
  EXPECT_FALSE(p.seen_by_a().close);
  EXPECT_LE(p.a().next_deadline(), p.now + 30s);
  p.tick(29s);
  EXPECT_FALSE(p.seen_by_a().close);
  p.tick(1s);
  ASSERT_TRUE(p.seen_by_a().close);
  EXPECT_EQ(p.seen_by_a().close->kind, CloseReason::Kind::peer_silent);
  ASSERT_TRUE(p.seen_by_a().resets.contains(id)) << "the local client must see a reset, not a clean end";
  EXPECT_FALSE(p.seen_by_a().resets.at(id).by_peer);
}

// Issue 13, "a peer that goes dark without closing": a new stream on a quiet connection must not
// wait 3 × keepalive (45 s) to learn the peer is gone; it probes with a PING and gives up in seconds.
TEST(Session, ANewStreamOnAQuietConnectionFindsADarkPeerWithinSeconds) {
  SessionPair p;
  p.handshake();
  p.tick(10s);  // quiet, but not yet keepalive time
  const StreamId id = open_on_a(p);
  EXPECT_LE(p.a().next_deadline(), p.now + 3s) << "the probe's deadline, not the keepalive's";
  p.tick(2999ms);  // b has gone dark: nothing is delivered
  EXPECT_FALSE(p.seen_by_a().close);
  p.tick(1ms);
  ASSERT_TRUE(p.seen_by_a().close);
  EXPECT_EQ(p.seen_by_a().close->kind, CloseReason::Kind::probe_unanswered);
  ASSERT_TRUE(p.seen_by_a().resets.contains(id)) << "the forward answers its client 421 on this reset";
  EXPECT_FALSE(p.seen_by_a().resets.at(id).by_peer);
}

TEST(Session, AnAnsweredProbeKeepsTheConnection) {
  SessionPair p;
  p.handshake();
  p.tick(10s);
  open_on_a(p);
  p.now += 100ms;
  p.deliver();  // b answers the PING (and takes the OPEN)
  p.tick(4s);
  EXPECT_FALSE(p.seen_by_a().close);
  EXPECT_GT(p.a().next_deadline(), p.now + 1s) << "no probe is pending any more";
}

TEST(Session, ANewStreamOnABusyConnectionSendsNoProbe) {
  SessionPair p;
  p.handshake();
  p.tick(1s);
  open_on_a(p);
  p.tick(5s);  // b never answers, but nothing asked it to
  EXPECT_FALSE(p.seen_by_a().close);
}

TEST(Session, ResponderClosesWhenMessage1DoesNotArriveInTime) {
  keys::PrivateKey vps = keys::PrivateKey::generate();
  Responder responder(vps);
  const TimePoint start{};
  Session s = Session::accept(responder, {}, start);
  Output out;
  EXPECT_EQ(s.next_deadline(), start + 5s);
  s.on_bytes(ByteVector{0, 128, 1}, start + 1s, out);  // a slow, partial message 1
  s.on_tick(start + 4999ms, out);
  EXPECT_FALSE(out.close);
  s.on_tick(start + 5s, out);
  ASSERT_TRUE(out.close);
  EXPECT_EQ(out.close->kind, CloseReason::Kind::handshake_timeout);
  EXPECT_TRUE(out.to_peer.empty());
}

TEST(Session, ResponderClosesSilentlyOnAWrongLengthWithoutWaiting) {
  keys::PrivateKey vps = keys::PrivateKey::generate();
  Responder responder(vps);
  Session s = Session::accept(responder, {}, TimePoint{});
  Output out;
  s.on_bytes(ByteVector{'G', 'E'}, TimePoint{}, out);  // "GET / HTTP/1.1" from a scanner
  ASSERT_TRUE(out.close);
  EXPECT_EQ(out.close->kind, CloseReason::Kind::handshake_failed);
  EXPECT_EQ(out.close->error, errc::bad_length);
  EXPECT_TRUE(out.to_peer.empty());
}

TEST(Session, ResponderSaysNothingForAWellFormedMessage1WithTheWrongKey) {
  keys::PrivateKey vps = keys::PrivateKey::generate(), office = keys::PrivateKey::generate();
  keys::PrivateKey other_vps = keys::PrivateKey::generate();
  keys::PresharedKey psk;
  Responder responder(vps);
  responder.add_peer(office.public_key(), psk);
  Session s = Session::accept(responder, {}, TimePoint{});
  auto initiator = Initiator::start(office, other_vps.public_key(), psk, Tai64n::from_system_time({}));
  Output out;
  s.on_bytes(initiator->initiation(), TimePoint{}, out);
  ASSERT_TRUE(out.close);
  EXPECT_EQ(out.close->error, errc::bad_mac1);
  EXPECT_TRUE(out.to_peer.empty());
}

TEST(Session, RekeysOnTimeAndTrafficKeepsFlowing) {
  SessionLimits limits;
  limits.keepalive = 60s;  // so that 121 s of silence is not yet death
  SessionPair p(limits, limits);
  p.handshake();
  const StreamId id = open_on_a(p);
  p.deliver();
  for (int round = 0; round < 4; ++round) {
    p.tick(121s);  // past the rekey interval; the tick also pings
    const ByteVector chunk(1000, static_cast<std::uint8_t>(round));
    p.on_a([&](Session& s, Output& out) { s.send(id, chunk, p.now, out); });
    p.on_b([&](Session& s, Output& out) { s.send(id, chunk, p.now, out); });
    p.deliver();
  }
  EXPECT_GE(p.a().stats().rekeys, 4U);
  EXPECT_GE(p.b().stats().rekeys, 4U);
  EXPECT_EQ(p.seen_by_b().data[id].size(), 4000U);
  EXPECT_EQ(p.seen_by_a().data[id].size(), 4000U);
  EXPECT_FALSE(p.seen_by_a().close);
  EXPECT_FALSE(p.seen_by_b().close);
}

TEST(Session, RekeysAfterTheRecordLimit) {
  SessionLimits limits;
  limits.rekey_records = 3;
  SessionPair p(limits, limits);
  p.handshake();
  const StreamId id = open_on_a(p);
  for (int i = 0; i < 20; ++i) {
    p.on_a([&](Session& s, Output& out) { s.send(id, ByteVector(10, 1), p.now, out); });
  }
  p.deliver();
  EXPECT_GE(p.a().stats().rekeys, 5U);
  EXPECT_EQ(p.seen_by_b().data[id].size(), 200U);
  EXPECT_FALSE(p.seen_by_b().close);
}

TEST(Session, GoawayRefusesNewStreamsDrainsOldOnesAndCloses) {
  SessionPair p;
  p.handshake();
  const StreamId id = open_on_a(p);
  p.deliver();
  p.on_b([&](Session& s, Output& out) { s.go_away(10s, p.now, out); });
  p.deliver();
  ASSERT_TRUE(p.seen_by_a().peer_going_away);
  EXPECT_EQ(*p.seen_by_a().peer_going_away, id);
  EXPECT_FALSE(p.a().can_open_streams());
  auto refused = p.on_a([&](Session& s, Output& out) { return s.open_stream(lmtp(), p.now, out); });
  EXPECT_FALSE(refused);

  // The open stream still finishes its work.
  const ByteVector reply = bytes_of("250 2.0.0 delivered\r\n");
  p.on_b([&](Session& s, Output& out) { s.send(id, reply, p.now, out); });
  p.on_b([&](Session& s, Output& out) { s.finish(id, p.now, out); });
  p.on_a([&](Session& s, Output& out) { s.finish(id, p.now, out); });
  p.deliver();
  EXPECT_EQ(p.seen_by_a().data[id], reply);
  ASSERT_TRUE(p.seen_by_a().close);
  ASSERT_TRUE(p.seen_by_b().close);
  EXPECT_EQ(p.seen_by_b().close->kind, CloseReason::Kind::drained);
  EXPECT_FALSE(p.seen_by_a().resets.contains(id));
}

TEST(Session, GoawayDrainDeadlineResetsWhatIsLeft) {
  SessionPair p;
  p.handshake();
  const StreamId id = open_on_a(p);
  p.deliver();
  p.on_a([&](Session& s, Output& out) { s.go_away(2s, p.now, out); });
  p.deliver();
  p.tick(2s);
  ASSERT_TRUE(p.seen_by_a().close);
  EXPECT_EQ(p.seen_by_a().close->kind, CloseReason::Kind::drain_timeout);
  EXPECT_TRUE(p.seen_by_a().resets.contains(id));
}

TEST(Session, AnOpenRacingAGoawayIsResetWithCode7) {
  SessionPair p;
  p.handshake();
  const StreamId keep = open_on_a(p);
  p.deliver();
  // b says GOAWAY while a's OPEN is in flight.
  const StreamId late = open_on_a(p);
  p.on_b([&](Session& s, Output& out) { s.go_away(10s, p.now, out); });
  p.deliver();
  ASSERT_TRUE(p.seen_by_a().resets.contains(late));
  EXPECT_EQ(p.seen_by_a().resets.at(late).code, ResetCode::going_away);
  EXPECT_FALSE(p.seen_by_a().resets.contains(keep));
}

// docs/design.md "Session refresh": the retiring side opens nothing more, but the peer's OPENs that
// cross its GOAWAY are still served; the connection closes once both said GOAWAY and every stream ended.
TEST(Session, RetireServesOpensThatCrossItsGoawayAndClosesWhenBothSidesAreDone) {
  SessionPair p;
  p.handshake();
  const StreamId before = open_on_a(p);
  p.deliver();
  p.on_b([&](Session& s, Output& out) { s.retire(1h, p.now, out); });
  EXPECT_TRUE(p.b().retiring());
  EXPECT_FALSE(p.b().can_open_streams());
  EXPECT_FALSE(p.on_b([&](Session& s, Output& out) { return s.open_stream(lmtp(), p.now, out); }));
  // a opens a stream before b's GOAWAY reaches it.
  const StreamId crossing = open_on_a(p);
  const ByteVector hello = bytes_of("LHLO office\r\n");
  p.on_a([&](Session& s, Output& out) { s.send(crossing, hello, p.now, out); });
  p.deliver();
  ASSERT_TRUE(p.seen_by_a().peer_going_away);
  EXPECT_FALSE(p.seen_by_a().resets.contains(crossing)) << "an OPEN crossing a refresh's GOAWAY is served";
  ASSERT_EQ(p.seen_by_b().opened.size(), 2U);
  EXPECT_EQ(p.seen_by_b().data[crossing], hello);
  EXPECT_FALSE(p.a().can_open_streams());

  // Both streams run to their end; then, and only then, the connection closes on both sides.
  for (const StreamId id : {before, crossing}) {
    p.on_a([&](Session& s, Output& out) { s.finish(id, p.now, out); });
    p.deliver();
    EXPECT_FALSE(p.seen_by_a().close);
    EXPECT_FALSE(p.seen_by_b().close);
    p.on_b([&](Session& s, Output& out) { s.finish(id, p.now, out); });
  }
  p.deliver();
  ASSERT_TRUE(p.seen_by_b().close);
  EXPECT_EQ(p.seen_by_b().close->kind, CloseReason::Kind::drained);
  ASSERT_TRUE(p.seen_by_a().close);
  EXPECT_TRUE(p.seen_by_a().resets.empty());
}

TEST(Session, RetiringWaitsForThePeersGoawayEvenWithNoStreamLeft) {
  SessionPair p;
  p.handshake();
  p.on_a([&](Session& s, Output& out) { s.retire(1h, p.now, out); });
  p.deliver();
  // b heard GOAWAY with nothing open: it closes, and so a learns the connection is done.
  ASSERT_TRUE(p.seen_by_b().close);
  EXPECT_EQ(p.seen_by_b().close->kind, CloseReason::Kind::drained);

  SessionPair q;
  q.handshake();
  q.on_a([&](Session& s, Output& out) { s.retire(1h, q.now, out); });
  EXPECT_FALSE(q.seen_by_a().close) << "b may have an OPEN in flight until its own GOAWAY arrives";
  q.on_b([&](Session& s, Output& out) { s.retire(1h, q.now, out); });
  q.deliver();
  ASSERT_TRUE(q.seen_by_a().close);
  EXPECT_EQ(q.seen_by_a().close->kind, CloseReason::Kind::drained);
}

TEST(Session, RetireProbesSoAPeerThatIsGoneIsClosedWithinSeconds) {
  SessionPair p;
  p.handshake();
  const StreamId id = open_on_a(p);
  p.deliver();
  p.on_b([&](Session& s, Output& out) { s.retire(1h, p.now, out); });
  // Nothing is delivered: a has gone (it restarted and dialed anew).
  EXPECT_LE(p.b().next_deadline(), p.now + 3s);
  p.tick(3s);
  ASSERT_TRUE(p.seen_by_b().close);
  EXPECT_EQ(p.seen_by_b().close->kind, CloseReason::Kind::probe_unanswered);
  EXPECT_TRUE(p.seen_by_b().resets.contains(id));
}

TEST(Session, RetireDrainDeadlineBoundsALongStream) {
  SessionPair p;
  p.handshake();
  const StreamId id = open_on_a(p);
  p.deliver();
  p.on_a([&](Session& s, Output& out) { s.retire(10s, p.now, out); });
  p.on_b([&](Session& s, Output& out) { s.retire(10s, p.now, out); });
  p.deliver();
  for (int i = 0; i < 3; ++i) {  // the stream stays busy, and keepalives flow
    p.tick(3s);
    p.deliver();
    EXPECT_FALSE(p.seen_by_a().close);
  }
  p.tick(1s);
  ASSERT_TRUE(p.seen_by_a().close);
  EXPECT_EQ(p.seen_by_a().close->kind, CloseReason::Kind::drain_timeout);
  EXPECT_TRUE(p.seen_by_a().resets.contains(id));
}

TEST(Session, ShutdownDuringARetireRefusesFromThenOn) {
  SessionPair p;
  p.handshake();
  const StreamId keep = open_on_a(p);
  p.deliver();
  p.on_b([&](Session& s, Output& out) { s.retire(1h, p.now, out); });
  p.on_b([&](Session& s, Output& out) { s.go_away(10s, p.now, out); });
  const StreamId late = open_on_a(p);
  p.deliver();
  ASSERT_TRUE(p.seen_by_a().resets.contains(late));
  EXPECT_EQ(p.seen_by_a().resets.at(late).code, ResetCode::going_away);
  EXPECT_FALSE(p.seen_by_a().resets.contains(keep));
}

TEST(Session, ResetReachesThePeerWithItsReason) {
  SessionPair p;
  p.handshake();
  const StreamId id = open_on_a(p);
  p.deliver();
  p.on_b([&](Session& s, Output& out) { s.reset(id, ResetCode::not_allowed, "service lmtp is not exposed to peer office", p.now, out); });
  p.deliver();
  ASSERT_TRUE(p.seen_by_a().resets.contains(id));
  EXPECT_EQ(p.seen_by_a().resets.at(id).code, ResetCode::not_allowed);
  EXPECT_EQ(p.seen_by_a().resets.at(id).reason, "service lmtp is not exposed to peer office");
  // Late data from a for the reset stream is dropped quietly, not a protocol error.
  p.on_a([&](Session& s, Output& out) { s.send(id, ByteVector(5, 1), p.now, out); });
  p.deliver();
  EXPECT_FALSE(p.seen_by_b().close);
}

TEST(Session, RandomFragmentationAndInterleavingDeliverIdenticalBytesPerStream) {
  for (const std::size_t fragment : {1, 7, 100, 1500, 70000}) {
    SessionLimits limits;
    limits.initial_window = 32 * 1024;
    SessionPair p(limits, limits);
    std::mt19937 rng(static_cast<unsigned>(fragment));
    p.deliver(fragment);
    std::vector<StreamId> ids;
    std::map<StreamId, ByteVector> sent;
    std::map<StreamId, std::size_t> consumed;
    for (int i = 0; i < 12; ++i) ids.push_back(open_on_a(p));
    for (int step = 0; step < 400; ++step) {
      const StreamId id = ids[rng() % ids.size()];
      ByteVector chunk(rng() % 5000);
      for (auto& b : chunk) b = static_cast<std::uint8_t>(rng());
      const std::size_t taken = p.on_a([&](Session& s, Output& out) { return s.send(id, chunk, p.now, out); });
      sent[id].insert(sent[id].end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(taken));
      if (step % 5 == 0) p.deliver(fragment);
      // The receiver drains each stream at its own pace; buffering never exceeds the window.
      for (const StreamId s : ids) {
        const std::size_t received = p.seen_by_b().data[s].size();
        ASSERT_LE(received - consumed[s], limits.initial_window) << "stream " << s;
        if (rng() % 3 == 0 && received > consumed[s]) {
          const std::size_t n = received - consumed[s];
          p.on_b([&](Session& ses, Output& out) { ses.consumed(s, n, p.now, out); });
          consumed[s] = received;
        }
      }
    }
    p.deliver(fragment);
    for (const StreamId id : ids) EXPECT_EQ(p.seen_by_b().data[id], sent[id]) << "stream " << id << ", fragment " << fragment;
    EXPECT_FALSE(p.seen_by_b().close);
  }
}

TEST(Session, RecordsCoalesceFramesAndCarryBulkDataInFullRecords) {
  SessionPair p;
  p.handshake();
  const StreamId id = open_on_a(p);
  const std::uint64_t records_before = p.a().stats().records_out;
  const ByteVector bulk(4 * max_record_plaintext, 7);
  const std::size_t taken = p.on_a([&](Session& s, Output& out) { return s.send(id, bulk, p.now, out); });
  const std::uint64_t records = p.a().stats().records_out - records_before;
  EXPECT_EQ(records, (taken + max_record_plaintext - frame_header_len - 1) / (max_record_plaintext - frame_header_len));
}

/// A responder that knows the office, and the office's message 1, for tests of what the responder
/// does with message 1 itself.
class ResponderSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    responder_.add_peer(keys_.office.public_key(), keys_.psk);
    auto started = Initiator::start(keys_.office, keys_.vps.public_key(), keys_.psk,
                                    Tai64n::from_system_time(std::chrono::system_clock::now()));
    ASSERT_TRUE(started);
    message_1_ = started->initiation();
    initiator_.emplace(std::move(*started));
  }

  testing::Keys keys_;
  Responder responder_{keys_.vps};
  std::optional<Initiator> initiator_;
  ByteVector message_1_;
  const TimePoint now_ = TimePoint{} + 1h;
};

// A message 1 replayed before its session is confirmed gets a session that can never be confirmed
// (docs/design.md §4.1, "Replay"); once the initiator's first record has arrived, the same message 1
// is refused as a replay.
TEST_F(ResponderSessionTest, OnlyAConfirmedSessionAdvancesTheReplayGuard) {
  Output a_out, b_out;
  Session a = Session::dial(std::move(*initiator_), 0, {}, now_, a_out);
  Session b = Session::accept(responder_, {}, now_);
  b.on_bytes(a_out.to_peer, now_, b_out);
  a_out.to_peer.clear();
  ASSERT_TRUE(b.established());

  auto replay_of_message_1 = [&] {
    Output out;
    Session replayed = Session::accept(responder_, {}, now_);
    replayed.on_bytes(message_1_, now_, out);
    return out.close;
  };
  EXPECT_FALSE(replay_of_message_1()) << "not yet confirmed: the guard has not moved";

  a.on_bytes(b_out.to_peer, now_, a_out);  // message 2; a answers with its first record
  b_out.to_peer.clear();
  b.on_bytes(a_out.to_peer, now_, b_out);
  ASSERT_TRUE(b.ready()) << "confirmed";
  const auto refused = replay_of_message_1();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error, errc::replayed_timestamp);
}

// The rate limit is asked between mac1 and Noise; a refusal closes the session without a byte.
TEST_F(ResponderSessionTest, ARateLimitedMessage1IsClosedWithoutAReply) {
  Output out;
  Session b = Session::accept(responder_, {}, now_, std::nullopt, [] { return false; });
  b.on_bytes(message_1_, now_, out);
  ASSERT_TRUE(out.close);
  EXPECT_EQ(out.close->error, errc::rate_limited);
  EXPECT_TRUE(out.to_peer.empty());
}

}  // namespace
}  // namespace mailtun::tunnel
