// `mailtun status` for people: the exact layout of a realistic report, 80 columns whatever the
// names, and peer-influenced text that cannot act on the terminal.

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "cli/status_report.hpp"
#include "tests/support/status_sample.hpp"

namespace mailtun::cli {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(StatusText, RealisticReport) {
  EXPECT_EQ(render_text(testing::sample_status()),
            R"(interface: vps
  public key: hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=
  listening on: 0.0.0.0:7424
  up for: 2 hours, 3 minutes
  version: 0.1.0
  rejected handshakes: bad_mac1 2, unknown_peer 1

peer: office (up)
  public key: 3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=
  endpoint: 203.0.113.7:51234
  latest handshake: 1 minute, 5 seconds ago
  session age: 1 hour, 2 minutes
  round trip: 0.4 ms
  transfer: 1.23 MiB received, 456.00 KiB sent
  streams: 2 open, 1234 total
  reconnects: 3
  last error: connection reset by peer

peer: backup (down)
  public key: XkNZ2JZt6Q0QwJqvP7k2b1oXG6kM3hG7y8zYvB2dE0c=
  endpoint: backup.example.org:7424
  latest handshake: never
  transfer: 0 B received, 0 B sent
  streams: 0 open, 0 total
  reconnects: 0
  last error: connect to 198.51.100.9:7424: connection refused

forwards:
  SERVICE       LISTEN          PEERS          OPEN  TOTAL  UNAVAILABLE  ERRORS
  lmtp          127.0.0.1:24    office            1     56            2       0
  dovecot-auth  127.0.0.1:3659  office,backup     1   1170            0       1

exposes:
  SERVICE  TARGET           PEERS   OPEN  TOTAL  ERRORS
  relay    127.0.0.1:10025  office     0      8       0
)");
}

TEST(StatusText, AnEndpointThatOnlyDialsAndHasNothingYet) {
  StatusReport report;
  report.interface = "office";
  report.public_key = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=";
  EXPECT_EQ(render_text(report),
            "interface: office\n"
            "  public key: 3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=\n"
            "  up for: 0 seconds\n"
            "  rejected handshakes: none\n");
}

// Names at the configuration's limits (64 characters, 32 for services), a host name of 253,
// IPv6 addresses, many peers per forward, counters at their maximum and a long error.
TEST(StatusText, NoLineExceeds80ColumnsWhateverTheLengths) {
  for (std::size_t length : {1, 20, 40, 64, 100, 253}) {
    SCOPED_TRACE(length);
    StatusReport report = testing::sample_status();
    const std::string name(length, 'n');
    report.interface = name;
    report.listen = "[2001:db8:1234:5678:9abc:def0:1234:5678]:7424";
    report.uptime_seconds = 1e12;
    report.rejected_handshakes = {
        {"rate_limited", UINT64_MAX}, {"bad_mac1", UINT64_MAX}, {"unknown_peer", 7},   {"replayed_timestamp", 9},
        {"timestamp_in_future", 1},   {"malformed", 3},         {"decrypt_failed", 4}, {"timeout", 5},
        {"too_many_unfinished", 6}};
    for (PeerStatus& peer : report.peers) {
      peer.name = name;
      peer.state = "connecting";
      peer.endpoint = std::string(length, 'h') + ".example.org:7424";
      peer.bytes_in = peer.bytes_out = peer.streams_open = peer.streams_total = peer.reconnects = UINT64_MAX;
      peer.last_error = "handshake failed: " + std::string(length, 'e') + " and then some more words";
    }
    for (ServiceStatus& service : report.services) {
      service.service = std::string(std::min<std::size_t>(length, 32), 's');
      service.address = "[2001:db8:1234:5678:9abc:def0:1234:5678]:10025";
      service.peers = {name, name, name};
      service.streams_open = service.streams_total = service.unavailable = service.errors = 1'000'000'000;
    }
    const std::string text = render_text(report);
    for (const std::string& line : lines_of(text)) {
      EXPECT_LE(line.size(), 80U) << line;
      EXPECT_TRUE(std::ranges::all_of(line, [](char c) { return c >= 0x20 && c < 0x7f; })) << line;
    }
    EXPECT_NE(text.find(length <= 60 ? name : name.substr(0, 40)), std::string::npos) << text;
    // Each table row still starts with (the start of) its service name.
    EXPECT_NE(text.find("\n  " + report.services[0].service.substr(0, 3)), std::string::npos) << text;
  }
}

TEST(StatusText, PeerInfluencedTextCannotReachTheTerminal) {
  StatusReport report = testing::sample_status();
  report.peers[0].last_error = "stream reset: \x1b[2J\x1b]0;pwned\x07\nfake line\r";
  report.peers[0].state = "up\x1b[31m";
  const std::string text = render_text(report);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    EXPECT_TRUE(c == '\n' || (byte >= 0x20 && byte < 0x7f)) << "byte " << int(byte);
  }
  EXPECT_NE(text.find("last error: stream reset: \\x1b[2J\\x1b]0;pwned\\x07\\x0afake line\\x0d\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("peer: office (up\\x1b[31m)\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace mailtun::cli
