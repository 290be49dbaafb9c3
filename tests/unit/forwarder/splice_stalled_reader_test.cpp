// A splice whose local socket stops reading (DESIGN §4.3, flow control): its stream must stop taking
// data, so what waits for that socket stays within the stream window, while the other streams of
// the same connection keep flowing; once the socket reads again every byte arrives, in order.
// Two Connections on loopback and one io_context; the receiving side's streams are real Splices.

#include "forwarder/splice.hpp"

#include <gtest/gtest.h>

#include <map>

#include "tests/unit/tunnel/support/connection_pair.hpp"

namespace mailtun::forwarder {
namespace {

using mailtun::testing::run_until;
using tunnel::StreamId;

/// The byte at `offset` of stream `id`: a pattern that shows loss, duplication and reordering.
std::uint8_t pattern(StreamId id, std::size_t offset) { return static_cast<std::uint8_t>((offset * 7 + id) % 251); }

/// The sending end of a stream, as a local client that always has more to say: pushes its pattern
/// while there is credit, resumes on on_writable().
class Pusher : public tunnel::asio::StreamSink {
 public:
  Pusher(std::shared_ptr<tunnel::asio::Connection> connection, StreamId id, std::size_t total)
      : connection_(std::move(connection)), id_(id), total_(total) {}

  void push() {
    std::array<std::uint8_t, 16 * 1024> chunk{};
    while (sent < total_) {
      const std::size_t credit = connection_->send_credit(id_);
      if (credit == 0) return;
      const std::size_t n = std::min({credit, chunk.size(), total_ - sent});
      for (std::size_t i = 0; i < n; ++i) chunk[i] = pattern(id_, sent + i);
      const std::size_t taken = connection_->send(id_, tunnel::Bytes(chunk.data(), n));
      if (taken == 0) return;
      sent += taken;
    }
  }
  void on_data(tunnel::Bytes) override {}
  void on_fin() override {}
  void on_reset(const tunnel::StreamReset&) override { reset = true; }
  void on_writable() override { push(); }

  std::size_t sent = 0;
  bool reset = false;

 private:
  std::shared_ptr<tunnel::asio::Connection> connection_;
  StreamId id_;
  std::size_t total_;
};

/// Checks `received` is the first bytes of stream `id`'s pattern; returns the first bad offset.
std::optional<std::size_t> first_mismatch(StreamId id, const std::vector<std::uint8_t>& received) {
  for (std::size_t i = 0; i < received.size(); ++i) {
    if (received[i] != pattern(id, i)) return i;
  }
  return std::nullopt;
}

// Guards the backpressure of Splice: credit goes back to the sender only as bytes are written to
// the local socket. A splice that returned credit on arrival (or buffered without bound) would let
// the stalled stream take all it is sent; one that held up the connection would starve stream 2.
TEST(SpliceStalledReaderTest, AStalledLocalReaderHoldsBackOnlyItsOwnStreamAndLosesNothing) {
  boost::asio::io_context io;
  tunnel::testing::ConnectionPair pair(io);
  ASSERT_TRUE(pair.connect());

  // Small kernel buffers on the local sockets, so that what the kernel absorbs is small beside
  // the window and the bound below is sharp.
  constexpr int local_buffer = 16 * 1024;
  std::map<StreamId, tcp::socket> readers;  // the local service's ends of each splice
  std::size_t local_kernel_bytes = 0;       // what the kernel holds between a splice and its reader, at most
  auto counters = std::make_shared<ServiceCounters>();
  pair.listener_handler.on_open = [&](tunnel::asio::Connection& connection, StreamId id, const tunnel::OpenPayload&) {
    auto local = mailtun::testing::loopback_pair(io, local_buffer, local_buffer);
    net::socket_base::send_buffer_size send_buffer;
    local.a.get_option(send_buffer);
    net::socket_base::receive_buffer_size receive_buffer;
    local.b.get_option(receive_buffer);
    local_kernel_bytes = static_cast<std::size_t>(send_buffer.value() + receive_buffer.value());
    auto splice = std::make_shared<Splice>(Splice::Side::expose, std::move(local.a), connection.shared_from_this(), id,
                                           Protocol::tcp, counters, "relay", "office");
    connection.attach(id, splice);
    splice->start();
    readers.emplace(id, std::move(local.b));
  };

  constexpr std::size_t stalled_total = 4 * 1024 * 1024;
  constexpr std::size_t flowing_total = 2 * 1024 * 1024;
  const auto open = [&](std::size_t total) {
    const auto id = pair.dialer->open_stream(tunnel::OpenPayload{"relay", {}, {}});
    EXPECT_TRUE(id);
    auto pusher = std::make_shared<Pusher>(pair.dialer, *id, total);
    pair.dialer->attach(*id, pusher);
    pusher->push();
    return std::pair{*id, pusher};
  };
  const auto [stalled_id, stalled] = open(stalled_total);
  const auto [flowing_id, flowing] = open(flowing_total);
  ASSERT_TRUE(run_until(io, [&] { return readers.size() == 2; }));

  // Stream 2 is read throughout and completes while stream 1's reader reads nothing.
  mailtun::testing::PolledReader flowing_reader(readers.at(flowing_id));
  ASSERT_TRUE(run_until(io, [&] {
    flowing_reader.poll();
    return flowing_reader.received.size() >= flowing_total || flowing_reader.failed || flowing_reader.eof;
  })) << "the other stream stopped flowing: only " << flowing_reader.received.size() << " bytes";
  EXPECT_EQ(flowing_reader.received.size(), flowing_total);
  EXPECT_EQ(first_mismatch(flowing_id, flowing_reader.received), std::nullopt);

  // Meanwhile the stalled stream took no more than its window plus what the kernel holds for the
  // local socket: the sender was held back, not buffered for.
  const std::size_t bound = tunnel::SessionLimits{}.initial_window + local_kernel_bytes + 64 * 1024;
  EXPECT_LE(stalled->sent, bound) << "the stalled stream kept taking data";
  EXPECT_LT(stalled->sent, stalled_total);
  EXPECT_EQ(pair.dialer->send_credit(stalled_id), 0U) << "the stalled stream still has credit";
  EXPECT_FALSE(stalled->reset);

  // The reader resumes: every byte arrives, in order, and nothing more.
  mailtun::testing::PolledReader stalled_reader(readers.at(stalled_id));
  ASSERT_TRUE(run_until(io, [&] {
    stalled_reader.poll();
    return stalled_reader.received.size() >= stalled_total || stalled_reader.failed || stalled_reader.eof;
  })) << "the stalled stream did not resume: " << stalled_reader.received.size() << " bytes";
  EXPECT_EQ(stalled_reader.received.size(), stalled_total);
  EXPECT_EQ(first_mismatch(stalled_id, stalled_reader.received), std::nullopt);
  EXPECT_EQ(stalled->sent, stalled_total);
  EXPECT_FALSE(pair.dialer->closed());
}

}  // namespace
}  // namespace mailtun::forwarder
