// The caps on accepted connections that have not finished the handshake (DESIGN §4.1 rule 2): at
// most 4 per source, a further one closed at once; and a total, at which the oldest is closed to make
// room. Strangers that connect and never send message 1 are the case: they must not hold the
// descriptors the real peer needs, and must never hear a byte.

#include <gtest/gtest.h>

#include "cli/endpoint.hpp"
#include "tests/support/endpoint_config.hpp"
#include "tests/support/loopback.hpp"
#include "tests/support/run_until.hpp"

namespace mailtun::cli {
namespace {

using namespace std::chrono_literals;
using testing::run_until;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// An accepted connection that sends nothing is closed anyway at the handshake deadline (5 s, DESIGN
// §4.1 rule 3): a close the caps owe must come well before it, or the test could not tell them apart.
constexpr auto well_before_the_handshake_deadline = 3s;

class EndpointHandshakeCapsTest : public ::testing::Test {
 protected:
  /// Starts the endpoint under test: it listens on a free loopback port and waits for its peer.
  void start(HandshakeCaps caps) {
    endpoint_ = std::make_unique<Endpoint>(
        io_, testing::loopback_config({"vps", 1, 0}, {"office", 2, 0}, /*dial=*/false), caps);
    endpoint_->start();
    listen_ = *endpoint_->tunnel_listen_endpoint();
  }

  /// A stranger at `source` (any 127.0.0.0/8 address is loopback) connects and says nothing.
  tcp::socket connect_silently(const char* source) {
    tcp::socket s(io_);
    s.open(tcp::v4());
    s.bind(tcp::endpoint(net::ip::make_address_v4(source), 0));
    s.connect(listen_);
    return s;
  }

  /// Waits until the endpoint has `n` connections alive.
  bool accepted(std::size_t n) {
    return run_until(io_, [&] { return endpoint_->connection_count() == n; }, well_before_the_handshake_deadline);
  }

  std::uint64_t refused_as_unfinished() const {
    const auto report = endpoint_->status_report();
    const auto it = report.rejected_handshakes.find("too_many_unfinished");
    return it == report.rejected_handshakes.end() ? 0 : it->second;
  }

  net::io_context io_;
  std::unique_ptr<Endpoint> endpoint_;
  tcp::endpoint listen_;
};

/// True while the endpoint keeps `s` open and has written nothing to it.
bool open_and_silent(tcp::socket& s) {
  testing::PolledReader reader(s);
  reader.poll();
  return !reader.eof && !reader.failed && reader.received.empty();
}

// Guards the per-source cap (the documented default, 4): a fifth silent connection from one source
// is closed at once without a byte, the four keep their slots, and another source is not affected.
TEST_F(EndpointHandshakeCapsTest, AFifthUnfinishedHandshakeFromOneSourceIsClosedWithoutAByte) {
  start(HandshakeCaps{});
  std::vector<tcp::socket> first;
  for (std::size_t i = 1; i <= 4; ++i) {
    first.push_back(connect_silently("127.0.0.1"));
    ASSERT_TRUE(accepted(i));
  }

  tcp::socket fifth = connect_silently("127.0.0.1");
  testing::PolledReader fifth_reader(fifth);
  ASSERT_TRUE(run_until(io_, [&] {
    fifth_reader.poll();
    return fifth_reader.eof || fifth_reader.failed;
  }, well_before_the_handshake_deadline)) << "the connection over the per-source cap was not closed";
  EXPECT_TRUE(fifth_reader.received.empty()) << "the endpoint spoke to a stranger";
  EXPECT_EQ(endpoint_->connection_count(), 4U);
  EXPECT_EQ(refused_as_unfinished(), 1U);
  for (auto& s : first) EXPECT_TRUE(open_and_silent(s)) << "a connection within the cap was closed";

  // The cap is per source: another address still gets a slot.
  tcp::socket other = connect_silently("127.0.0.2");
  ASSERT_TRUE(accepted(5));
  EXPECT_TRUE(open_and_silent(other));
  EXPECT_EQ(refused_as_unfinished(), 1U);
}

// Guards the total cap: at the cap, a new connection gets a slot and the oldest unfinished one is
// closed, without a byte, while the others keep theirs.
TEST_F(EndpointHandshakeCapsTest, AtTheTotalCapTheOldestUnfinishedHandshakeIsClosed) {
  start(HandshakeCaps{.in_all = 4, .per_source = 4});
  // One connection per source, so only the total cap applies; accepted in this order.
  const std::array<const char*, 4> sources{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"};
  std::vector<tcp::socket> held;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    held.push_back(connect_silently(sources[i]));
    ASSERT_TRUE(accepted(i + 1));
  }

  tcp::socket newest = connect_silently("127.0.0.6");
  testing::PolledReader oldest_reader(held.front());
  ASSERT_TRUE(run_until(io_, [&] {
    oldest_reader.poll();
    return oldest_reader.eof || oldest_reader.failed;
  }, well_before_the_handshake_deadline)) << "the oldest unfinished handshake was not closed at the total cap";
  EXPECT_TRUE(oldest_reader.received.empty()) << "the endpoint spoke to a stranger";
  ASSERT_TRUE(accepted(4));
  EXPECT_EQ(refused_as_unfinished(), 1U);
  for (std::size_t i = 1; i < held.size(); ++i) EXPECT_TRUE(open_and_silent(held[i])) << sources[i];
  EXPECT_TRUE(open_and_silent(newest)) << "the newest connection did not get the freed slot";
}

// A VPS with more offices than the total cap: after a restart every office reconnects at once, and
// each must keep its slot until its handshake is done, so the total is at least one per peer.
TEST_F(EndpointHandshakeCapsTest, TheTotalCapIsAtLeastOnePerConfiguredPeer) {
  Config config = testing::loopback_config({"vps", 1, 0}, {"office", 2, 0}, /*dial=*/false);
  for (std::uint8_t i = 3; i <= 6; ++i) {
    config.peers.push_back({.name = "office" + std::to_string(i), .public_key = testing::fixed_private_key(i).public_key()});
  }
  endpoint_ = std::make_unique<Endpoint>(io_, std::move(config), HandshakeCaps{.in_all = 2, .per_source = 4});
  endpoint_->start();
  listen_ = *endpoint_->tunnel_listen_endpoint();
  // Five peers: five unfinished handshakes, from five sources, all kept.
  const std::array<const char*, 5> sources{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"};
  std::vector<tcp::socket> held;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    held.push_back(connect_silently(sources[i]));
    ASSERT_TRUE(accepted(i + 1));
  }
  EXPECT_EQ(refused_as_unfinished(), 0U);
  for (std::size_t i = 0; i < held.size(); ++i) EXPECT_TRUE(open_and_silent(held[i])) << sources[i];

  // A sixth is one too many: the oldest makes room.
  tcp::socket sixth = connect_silently("127.0.0.7");
  testing::PolledReader oldest_reader(held.front());
  ASSERT_TRUE(run_until(io_, [&] {
    oldest_reader.poll();
    return oldest_reader.eof || oldest_reader.failed;
  }, well_before_the_handshake_deadline)) << "the oldest unfinished handshake was not closed at the cap";
  EXPECT_EQ(refused_as_unfinished(), 1U);
  EXPECT_TRUE(open_and_silent(sixth));
}

}  // namespace
}  // namespace mailtun::cli
