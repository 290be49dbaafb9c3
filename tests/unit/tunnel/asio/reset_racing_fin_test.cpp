// A reset racing a FIN (docs/protocol.md, "Streams"): one side half-closes a stream while the other
// resets it, each before hearing from the other, with and without DATA still in flight. A stream is
// gone after RST either way, and frames for a stream that is gone are dropped quietly; so both
// sides must end with the stream gone, the resetting side must hear nothing more of it, the
// finishing side must hear only the reset, and the connection must go on serving new streams.

#include <gtest/gtest.h>

#include <map>

#include "tests/unit/tunnel/support/connection_pair.hpp"

namespace mailtun::tunnel::asio {
namespace {

using mailtun::testing::run_until;
using testing::ByteVector;
using testing::RecordingSink;

struct Race {
  bool dialer_finishes;    // else the listener finishes and the dialer resets
  bool data_in_flight;     // the finishing side sends DATA just before its FIN
  bool reset_called_first;  // the order of the two local calls
};

std::string describe(const Race& r) {
  return std::string(r.dialer_finishes ? "DialerFinishes" : "ListenerFinishes") +
         (r.data_in_flight ? "WithDataInFlight" : "WithoutData") + (r.reset_called_first ? "ResetFirst" : "FinFirst");
}
std::string race_name(const ::testing::TestParamInfo<Race>& race) { return describe(race.param); }
void PrintTo(const Race& race, std::ostream* os) { *os << describe(race); }

Bytes bytes_of(const std::string& s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }
std::string text_of(const ByteVector& v) { return {v.begin(), v.end()}; }

class ResetRacingFinTest : public ::testing::TestWithParam<Race> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pair_.connect());
    pair_.listener_handler.on_open = [this](Connection& connection, StreamId id, const OpenPayload&) {
      auto sink = std::make_shared<RecordingSink>();
      connection.attach(id, sink);
      listener_sinks_[id] = sink;
    };
  }

  /// Opens a stream from the dialer and has one exchange on it, so it is open at both ends.
  std::pair<StreamId, std::shared_ptr<RecordingSink>> open_stream() {
    const auto id = pair_.dialer->open_stream(OpenPayload{"relay", {}, {}});
    EXPECT_TRUE(id);
    auto sink = std::make_shared<RecordingSink>();
    pair_.dialer->attach(*id, sink);
    pair_.dialer->send(*id, bytes_of("ping"));
    EXPECT_TRUE(run_until(io_, [&] { return listener_sinks_.contains(*id) && listener_sinks_[*id]->received.size() == 4; }));
    pair_.listener->send(*id, bytes_of("pong"));
    EXPECT_TRUE(run_until(io_, [&] { return sink->received.size() == 4; }));
    return {*id, sink};
  }

  boost::asio::io_context io_;
  testing::ConnectionPair pair_{io_};
  std::map<StreamId, std::shared_ptr<RecordingSink>> listener_sinks_;
};

// Guards the stream state machine of both shells against the crossing: a side that delivered DATA
// or a FIN after its own reset, treated the peer's late frames as a protocol error (closing the
// connection), or kept a half-closed stream the peer's RST should have ended, fails here.
TEST_P(ResetRacingFinTest, BothSidesEndWithTheStreamGoneAndTheConnectionServing) {
  const Race race = GetParam();
  const auto [id, dialer_sink] = open_stream();
  Connection& finisher = race.dialer_finishes ? *pair_.dialer : *pair_.listener;
  Connection& resetter = race.dialer_finishes ? *pair_.listener : *pair_.dialer;
  RecordingSink& finisher_sink = race.dialer_finishes ? *dialer_sink : *listener_sinks_.at(id);
  RecordingSink& resetter_sink = race.dialer_finishes ? *listener_sinks_.at(id) : *dialer_sink;
  const std::size_t resetter_had = resetter_sink.received.size();
  const std::size_t finisher_had = finisher_sink.received.size();

  const auto finish = [&] {
    if (race.data_in_flight) {
      const ByteVector data(64 * 1024, 'd');
      ASSERT_EQ(finisher.send(id, data), data.size());
    }
    finisher.finish(id);
  };
  const auto reset = [&] { resetter.reset(id, ResetCode::internal, "racing the fin"); };
  // Both before the loop runs again: neither side has read the other's frame when it sends its own.
  if (race.reset_called_first) {
    reset();
    finish();
  } else {
    finish();
    reset();
  }

  ASSERT_TRUE(run_until(io_, [&] {
    return finisher_sink.reset && !pair_.dialer->session().has_stream(id) && !pair_.listener->session().has_stream(id);
  })) << "the stream did not end at both sides";
  ASSERT_FALSE(pair_.dialer->closed()) << "a late frame of the gone stream ended the connection";
  ASSERT_FALSE(pair_.listener->closed()) << "a late frame of the gone stream ended the connection";
  EXPECT_EQ(pair_.dialer->session().stream_count(), 0U);
  EXPECT_EQ(pair_.listener->session().stream_count(), 0U);

  // The finishing side hears the peer's reset, and nothing else.
  EXPECT_TRUE(finisher_sink.reset->by_peer);
  EXPECT_EQ(finisher_sink.reset->code, ResetCode::internal);
  EXPECT_EQ(finisher_sink.reset->reason, "racing the fin");
  EXPECT_EQ(finisher_sink.received.size(), finisher_had);
  EXPECT_FALSE(finisher_sink.fin);
  EXPECT_EQ(finisher_sink.events_after_reset, 0);
  // The resetting side hears nothing after its reset: not the DATA in flight, not the FIN.
  EXPECT_EQ(resetter_sink.received.size(), resetter_had) << "data was delivered after the reset";
  EXPECT_FALSE(resetter_sink.fin) << "a FIN was delivered after the reset";
  EXPECT_FALSE(resetter_sink.reset) << "the side that reset was told of its own reset";

  // The connection still serves: a new stream carries data and ends cleanly both ways.
  const auto [next, next_sink] = open_stream();
  EXPECT_NE(next, id);
  pair_.dialer->send(next, bytes_of(" again"));
  pair_.dialer->finish(next);
  ASSERT_TRUE(run_until(io_, [&] { return listener_sinks_.at(next)->fin; }));
  EXPECT_EQ(text_of(listener_sinks_.at(next)->received), "ping again");
  pair_.listener->finish(next);
  ASSERT_TRUE(run_until(io_, [&] { return next_sink->fin; }));
  EXPECT_EQ(text_of(next_sink->received), "pong");
  EXPECT_TRUE(run_until(io_, [&] {
    return !pair_.dialer->session().has_stream(next) && !pair_.listener->session().has_stream(next);
  }));
}

INSTANTIATE_TEST_SUITE_P(Races, ResetRacingFinTest,
                         ::testing::Values(Race{true, false, false}, Race{true, false, true}, Race{true, true, false},
                                           Race{true, true, true}, Race{false, false, false}, Race{false, false, true},
                                           Race{false, true, false}, Race{false, true, true}),
                         race_name);

}  // namespace
}  // namespace mailtun::tunnel::asio
