// The status report's JSON: what the control socket carries and `mailtun status --json` prints.

#include "cli/status_report.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/status_sample.hpp"

namespace mailtun::cli {
namespace {

void expect_same(const StatusReport& a, const StatusReport& b) {
  EXPECT_EQ(a.interface, b.interface);
  EXPECT_EQ(a.public_key, b.public_key);
  EXPECT_EQ(a.listen, b.listen);
  EXPECT_EQ(a.uptime_seconds, b.uptime_seconds);
  EXPECT_EQ(a.version, b.version);
  ASSERT_EQ(a.peers.size(), b.peers.size());
  for (std::size_t i = 0; i < a.peers.size(); ++i) {
    const PeerStatus& p = a.peers[i];
    const PeerStatus& q = b.peers[i];
    EXPECT_EQ(p.name, q.name);
    EXPECT_EQ(p.public_key, q.public_key);
    EXPECT_EQ(p.state, q.state);
    EXPECT_EQ(p.endpoint, q.endpoint);
    EXPECT_EQ(p.seconds_since_handshake, q.seconds_since_handshake);
    EXPECT_EQ(p.session_age_seconds, q.session_age_seconds);
    EXPECT_EQ(p.rtt_ms, q.rtt_ms);
    EXPECT_EQ(p.bytes_in, q.bytes_in);
    EXPECT_EQ(p.bytes_out, q.bytes_out);
    EXPECT_EQ(p.streams_open, q.streams_open);
    EXPECT_EQ(p.streams_total, q.streams_total);
    EXPECT_EQ(p.reconnects, q.reconnects);
    EXPECT_EQ(p.last_error, q.last_error);
  }
  ASSERT_EQ(a.services.size(), b.services.size());
  for (std::size_t i = 0; i < a.services.size(); ++i) {
    const ServiceStatus& s = a.services[i];
    const ServiceStatus& t = b.services[i];
    EXPECT_EQ(s.kind, t.kind);
    EXPECT_EQ(s.service, t.service);
    EXPECT_EQ(s.address, t.address);
    EXPECT_EQ(s.peers, t.peers);
    EXPECT_EQ(s.streams_open, t.streams_open);
    EXPECT_EQ(s.streams_total, t.streams_total);
    EXPECT_EQ(s.unavailable, t.unavailable);
    EXPECT_EQ(s.errors, t.errors);
  }
  EXPECT_EQ(a.rejected_handshakes, b.rejected_handshakes);
}

std::string parse_error(std::string_view json) {
  try {
    (void)status_from_json(json);
  } catch (const StatusFormatError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(StatusJson, RoundTripsEveryField) {
  StatusReport report = testing::sample_status();
  report.peers[0].bytes_in = UINT64_MAX;  // beyond a double's exact integers
  expect_same(status_from_json(to_json(report)), report);
}

TEST(StatusJson, IsOneLineWithTheDocumentedFieldNames) {
  const std::string json = to_json(testing::sample_status());
  EXPECT_EQ(json.find('\n'), std::string::npos);
  const auto document = nlohmann::json::parse(json);
  EXPECT_EQ(document["interface"], "vps");
  EXPECT_EQ(document["peers"][0]["rtt_ms"], 0.42);
  EXPECT_TRUE(document["peers"][1]["seconds_since_handshake"].is_null());
  EXPECT_EQ(document["services"][1]["peers"], nlohmann::json::array({"office", "backup"}));
  EXPECT_EQ(document["rejected_handshakes"]["bad_mac1"], 2);
}

TEST(StatusJson, TextThatIsNotUtf8BecomesReplacementCharacters) {
  StatusReport report = testing::sample_status();
  report.peers[0].last_error = "reset: \xff\xfe by peer";
  EXPECT_EQ(status_from_json(to_json(report)).peers[0].last_error, "reset: \xEF\xBF\xBD\xEF\xBF\xBD by peer");
}

TEST(StatusJson, AbsentFieldsKeepDefaultsAndUnknownOnesAreIgnored) {
  const StatusReport report = status_from_json(R"({"interface":"vps","future":1,"peers":[{"name":"a"}]})");
  EXPECT_EQ(report.interface, "vps");
  ASSERT_EQ(report.peers.size(), 1U);
  EXPECT_EQ(report.peers[0].name, "a");
  EXPECT_EQ(report.peers[0].bytes_in, 0U);
  EXPECT_FALSE(report.peers[0].rtt_ms);
}

TEST(StatusJson, MalformedInputIsNamedPrecisely) {
  EXPECT_EQ(parse_error("{\"interface\":"), "status report: not valid JSON");
  EXPECT_EQ(parse_error("[1,2]"), "status report: the report: expected an object");
  EXPECT_EQ(parse_error("{}"), "status report: no \"interface\" field");
  EXPECT_EQ(parse_error(R"({"interface":7})"), "status report: interface: expected a string");
  EXPECT_EQ(parse_error(R"({"interface":"v","peers":[{},{"bytes_in":-1}]})"),
            "status report: peers[1].bytes_in: expected a count (an unsigned integer)");
  EXPECT_EQ(parse_error(R"({"interface":"v","peers":[{"rtt_ms":"fast"}]})"),
            "status report: peers[0].rtt_ms: expected a number or null");
  EXPECT_EQ(parse_error(R"({"interface":"v","services":[{"peers":["a",1]}]})"),
            "status report: services[0].peers: expected an array of strings");
  EXPECT_EQ(parse_error(R"({"interface":"v","services":{}})"), "status report: services: expected an array");
  EXPECT_EQ(parse_error(R"({"interface":"v","peers":[3]})"), "status report: peers[0]: expected an object");
  EXPECT_EQ(parse_error(R"({"interface":"v","rejected_handshakes":{"x":1.5}})"),
            "status report: rejected_handshakes: expected an object of counts");
}

}  // namespace
}  // namespace mailtun::cli
