// Receive window growth (docs/design.md §4.3): a stream whose reader keeps up earns a larger window,
// doubling up to SessionLimits::max_window within the connection's window_growth_budget; a reader
// that falls behind never grows it.
#include <gtest/gtest.h>

#include "tests/unit/tunnel/support/session_pair.hpp"
#include "tunnel/session.hpp"

namespace mailtun::tunnel {
namespace {

using testing::ByteVector;
using testing::SessionPair;

constexpr std::uint32_t kib = 1024;

SessionLimits growing(std::uint32_t initial, std::uint32_t max, std::size_t budget) {
  SessionLimits limits;
  limits.initial_window = initial;
  limits.max_window = max;
  limits.window_growth_budget = budget;
  return limits;
}

StreamId open_on_a(SessionPair& p) {
  OpenPayload open;
  open.service = "lmtp";
  auto id = p.on_a([&](Session& s, Output& out) { return s.open_stream(open, p.now, out); });
  EXPECT_TRUE(id) << id.error().message();
  return *id;
}

/// One round of a sender that uses all its credit and a receiver whose socket takes everything at
/// once; returns the sender's credit afterwards, which is the receiver's window.
std::size_t send_all_and_consume(SessionPair& p, StreamId id) {
  const ByteVector chunk(p.a().send_credit(id), 0x42);
  const std::size_t before = p.seen_by_b().data[id].size();
  p.on_a([&](Session& s, Output& out) { return s.send(id, chunk, p.now, out); });
  p.deliver();
  const std::size_t arrived = p.seen_by_b().data[id].size() - before;
  EXPECT_EQ(arrived, chunk.size());
  p.on_b([&](Session& s, Output& out) { s.consumed(id, arrived, p.now, out); });
  p.deliver();
  return p.a().send_credit(id);
}

TEST(SessionWindowGrowth, AReaderThatKeepsUpDoublesTheWindowUpToTheMaximum) {
  const auto limits = growing(64 * kib, 256 * kib, 1024 * kib);
  SessionPair p(limits, limits);
  p.handshake();
  const StreamId id = open_on_a(p);
  EXPECT_EQ(send_all_and_consume(p, id), 128U * kib);
  EXPECT_EQ(send_all_and_consume(p, id), 256U * kib);
  EXPECT_EQ(send_all_and_consume(p, id), 256U * kib) << "never beyond max_window";
  EXPECT_TRUE(p.seen_by_b().resets.empty());
}

TEST(SessionWindowGrowth, AReaderThatFallsBehindKeepsTheInitialWindow) {
  const auto limits = growing(64 * kib, 256 * kib, 1024 * kib);
  SessionPair p(limits, limits);
  p.handshake();
  const StreamId id = open_on_a(p);
  p.on_a([&](Session& s, Output& out) { return s.send(id, ByteVector(64 * kib, 1), p.now, out); });
  p.deliver();
  // The socket takes a quarter at a time while the rest waits: credit comes back byte for byte.
  for (int quarter = 1; quarter <= 4; ++quarter) {
    p.on_b([&](Session& s, Output& out) { s.consumed(id, 16 * kib, p.now, out); });
    p.deliver();
    EXPECT_EQ(p.a().send_credit(id), quarter * 16U * kib) << "quarter " << quarter;
  }
}

TEST(SessionWindowGrowth, TheConnectionsBudgetBoundsAllStreamsTogetherAndIsReturnedWithAStream) {
  const auto limits = growing(64 * kib, 1024 * kib, 64 * kib);
  SessionPair p(limits, limits);
  p.handshake();
  const StreamId first = open_on_a(p), second = open_on_a(p);
  EXPECT_EQ(send_all_and_consume(p, first), 128U * kib);
  EXPECT_EQ(send_all_and_consume(p, first), 128U * kib) << "the budget is spent";
  EXPECT_EQ(send_all_and_consume(p, second), 64U * kib) << "nothing left for another stream";

  p.on_a([&](Session& s, Output& out) { s.reset(first, ResetCode::internal, "done", p.now, out); });
  p.deliver();
  ASSERT_FALSE(p.b().has_stream(first));
  EXPECT_EQ(send_all_and_consume(p, second), 128U * kib) << "the closed stream's growth is free again";
}

TEST(SessionWindowGrowth, DataBeyondAGrownWindowStillResetsTheStream) {
  const auto receiver = growing(64 * kib, 128 * kib, 1024 * kib);
  auto sender = receiver;
  sender.initial_window = 256 * kib;  // believes it may send more than the receiver ever grants
  SessionPair p(sender, receiver);
  p.handshake();
  const StreamId id = open_on_a(p);
  p.on_a([&](Session& s, Output& out) { return s.send(id, ByteVector(64 * kib, 1), p.now, out); });
  p.deliver();
  p.on_b([&](Session& s, Output& out) { s.consumed(id, 64 * kib, p.now, out); });
  p.deliver();
  // The receiver's window is now 128 KiB, all of it unused; one byte more is a violation.
  p.on_a([&](Session& s, Output& out) { return s.send(id, ByteVector(128 * kib + 1, 2), p.now, out); });
  p.deliver();
  ASSERT_TRUE(p.seen_by_b().resets.contains(id));
  EXPECT_EQ(p.seen_by_b().resets.at(id).code, ResetCode::flow_control);
}

}  // namespace
}  // namespace mailtun::tunnel
