// Two endpoints that dial each other at once (DESIGN §4.1): both must keep one and the same
// connection, the one dialed by the side with the lower public key, and it must carry streams.
// Both endpoints run in-process on one io_context over loopback.

#include <gtest/gtest.h>

#include <boost/asio/write.hpp>

#include "cli/endpoint.hpp"
#include "tests/support/endpoint_config.hpp"
#include "tests/support/loopback.hpp"
#include "tests/support/run_until.hpp"

namespace mailtun::cli {
namespace {

using namespace std::chrono_literals;
using testing::LoopbackSide;
using testing::run_until;
using tcp = boost::asio::ip::tcp;

// The parameter: whether the office (started first) holds the lower public key.
class EndpointTieBreakTest : public ::testing::TestWithParam<bool> {};

// Guards the tie-break: without it each side lets the other's connection replace its own and both
// drop, or the two sides keep different connections and the peer flaps; a rule applied with the
// comparison the wrong way round keeps the connection dialed by the higher key.
TEST_P(EndpointTieBreakTest, BothSidesKeepTheConnectionDialedByTheLowerKey) {
  const bool office_is_lower = GetParam();
  // Fills 1 and 2 give two fixed keys; which one sorts lower is computed, not assumed.
  const std::uint8_t lower_fill = testing::public_key_is_lower(1, 2) ? 1 : 2;
  const std::uint8_t higher_fill = lower_fill == 1 ? 2 : 1;

  boost::asio::io_context io;
  testing::EchoService echo(io);
  const LoopbackSide office_side{"office", office_is_lower ? lower_fill : higher_fill, testing::free_loopback_port(io)};
  const LoopbackSide vps_side{"vps", office_is_lower ? higher_fill : lower_fill, testing::free_loopback_port(io)};
  const std::uint16_t forward_port = testing::free_loopback_port(io);

  Config office_config = testing::loopback_config(office_side, vps_side, /*dial=*/true);
  office_config.forwards.push_back(
      Forward{.service = "relay", .listen = {"127.0.0.1", forward_port, false}, .peers = {"vps"}});
  Config vps_config = testing::loopback_config(vps_side, office_side, /*dial=*/true);
  vps_config.exposes.push_back(
      Expose{.service = "relay", .target = {"127.0.0.1", echo.port()}, .peers = {"office"}});

  Endpoint office(io, std::move(office_config));
  Endpoint vps(io, std::move(vps_config));
  office.start();
  vps.start();  // before the loop runs: both dial at once

  // Settled: each side has one connection left, and it is the same TCP connection seen from both
  // ends, dialed by the lower key.
  const auto settled = [&] {
    const auto at_office = office.current_connection("vps");
    const auto at_vps = vps.current_connection("office");
    return at_office && at_vps && at_office->session().ready() && at_vps->session().ready() &&
           office.connection_count() == 1 && vps.connection_count() == 1 &&
           at_office->local_endpoint() == at_vps->remote_endpoint() &&
           at_office->remote_endpoint() == at_vps->local_endpoint();
  };
  ASSERT_TRUE(run_until(io, settled)) << "the two sides did not settle on one shared connection";
  const auto kept_at_office = office.current_connection("vps");
  const auto kept_at_vps = vps.current_connection("office");
  EXPECT_EQ(kept_at_office->session().is_initiator(), office_is_lower) << "kept a connection dialed by the higher key";
  EXPECT_EQ(kept_at_vps->session().is_initiator(), !office_is_lower) << "kept a connection dialed by the higher key";
  const std::uint16_t lower_listen = office_is_lower ? vps_side.listen_port : office_side.listen_port;
  EXPECT_EQ((office_is_lower ? kept_at_office : kept_at_vps)->remote_endpoint().port(), lower_listen)
      << "the lower side's connection does not go to the other side's listener";

  // It carries a stream end to end: forward at the office, expose at the vps, echo behind it.
  tcp::socket client(io);
  client.connect(tcp::endpoint(testing::loopback, forward_port));
  const std::string message = "one connection, both ways\r\n";
  boost::asio::write(client, boost::asio::buffer(message));
  testing::PolledReader reader(client);
  ASSERT_TRUE(run_until(io, [&] {
    reader.poll();
    return reader.received.size() >= message.size() || reader.eof || reader.failed;
  }));
  EXPECT_EQ(reader.text(), message);

  // Nothing replaced it meanwhile: the choice is stable, not a moment in a flap.
  EXPECT_EQ(office.current_connection("vps"), kept_at_office);
  EXPECT_EQ(vps.current_connection("office"), kept_at_vps);
  EXPECT_EQ(office.connection_count(), 1U);
  EXPECT_EQ(vps.connection_count(), 1U);

  bool office_down = false;
  bool vps_down = false;
  office.shutdown(0ms, [&] { office_down = true; });
  vps.shutdown(0ms, [&] { vps_down = true; });
  EXPECT_TRUE(run_until(io, [&] { return office_down && vps_down; }));
}

INSTANTIATE_TEST_SUITE_P(KeyOrders, EndpointTieBreakTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& key_order) {
                           return key_order.param ? "OfficeHasTheLowerKey" : "VpsHasTheLowerKey";
                         });

}  // namespace
}  // namespace mailtun::cli
