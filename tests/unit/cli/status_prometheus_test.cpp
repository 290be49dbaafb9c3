// The status report as Prometheus scrapes it (text exposition format 0.0.4).

#include <gtest/gtest.h>

#include "cli/status_report.hpp"

namespace mailtun::cli {
namespace {

TEST(StatusPrometheus, SmallReportExactly) {
  StatusReport report;
  report.interface = "vps";
  PeerStatus office;
  office.name = "office";
  office.state = "up";
  office.seconds_since_handshake = 65.25;
  office.session_age_seconds = 65.5;
  office.rtt_ms = 0.42;
  office.bytes_in = 18446744073709551615ULL;  // exact, not rounded through a double
  office.bytes_out = 466944;
  office.streams_open = 2;
  office.streams_total = 1234;
  office.reconnects = 3;
  report.peers.push_back(office);
  PeerStatus backup;
  backup.name = "backup";
  backup.state = "down";
  report.peers.push_back(backup);
  report.services.push_back({.kind = "forward",
                             .service = "lmtp",
                             .address = "127.0.0.1:24",
                             .peers = {"office"},
                             .streams_open = 1,
                             .streams_total = 56,
                             .unavailable = 2,
                             .errors = 1});
  report.rejected_handshakes = {{"bad_mac1", 4}};

  EXPECT_EQ(render_prometheus(report), R"(# HELP mailtun_peer_up 1 if the peer has a ready tunnel connection, else 0.
# TYPE mailtun_peer_up gauge
mailtun_peer_up{interface="vps",peer="office"} 1
mailtun_peer_up{interface="vps",peer="backup"} 0
# HELP mailtun_peer_bytes_received_total Tunnel bytes received from the peer.
# TYPE mailtun_peer_bytes_received_total counter
mailtun_peer_bytes_received_total{interface="vps",peer="office"} 18446744073709551615
mailtun_peer_bytes_received_total{interface="vps",peer="backup"} 0
# HELP mailtun_peer_bytes_sent_total Tunnel bytes sent to the peer.
# TYPE mailtun_peer_bytes_sent_total counter
mailtun_peer_bytes_sent_total{interface="vps",peer="office"} 466944
mailtun_peer_bytes_sent_total{interface="vps",peer="backup"} 0
# HELP mailtun_peer_streams_open Streams open with the peer.
# TYPE mailtun_peer_streams_open gauge
mailtun_peer_streams_open{interface="vps",peer="office"} 2
mailtun_peer_streams_open{interface="vps",peer="backup"} 0
# HELP mailtun_peer_streams_total Streams opened with the peer, either way.
# TYPE mailtun_peer_streams_total counter
mailtun_peer_streams_total{interface="vps",peer="office"} 1234
mailtun_peer_streams_total{interface="vps",peer="backup"} 0
# HELP mailtun_peer_reconnects_total Tunnel connections to the peer lost.
# TYPE mailtun_peer_reconnects_total counter
mailtun_peer_reconnects_total{interface="vps",peer="office"} 3
mailtun_peer_reconnects_total{interface="vps",peer="backup"} 0
# HELP mailtun_peer_last_handshake_seconds Seconds since the latest handshake with the peer; absent before the first.
# TYPE mailtun_peer_last_handshake_seconds gauge
mailtun_peer_last_handshake_seconds{interface="vps",peer="office"} 65.25
# HELP mailtun_peer_session_age_seconds Seconds the current session with the peer has been up; absent when it is not up.
# TYPE mailtun_peer_session_age_seconds gauge
mailtun_peer_session_age_seconds{interface="vps",peer="office"} 65.5
# HELP mailtun_peer_rtt_seconds Latest PING/PONG round trip on the peer's connection.
# TYPE mailtun_peer_rtt_seconds gauge
mailtun_peer_rtt_seconds{interface="vps",peer="office"} 0.00042
# HELP mailtun_service_streams_open Streams open through the forward or expose.
# TYPE mailtun_service_streams_open gauge
mailtun_service_streams_open{interface="vps",kind="forward",service="lmtp",address="127.0.0.1:24"} 1
# HELP mailtun_service_streams_total Streams through the forward or expose.
# TYPE mailtun_service_streams_total counter
mailtun_service_streams_total{interface="vps",kind="forward",service="lmtp",address="127.0.0.1:24"} 56
# HELP mailtun_service_unavailable_total Clients a forward answered "unavailable" (421 for LMTP and SMTP).
# TYPE mailtun_service_unavailable_total counter
mailtun_service_unavailable_total{interface="vps",kind="forward",service="lmtp",address="127.0.0.1:24"} 2
# HELP mailtun_service_errors_total Streams refused or reset before completing.
# TYPE mailtun_service_errors_total counter
mailtun_service_errors_total{interface="vps",kind="forward",service="lmtp",address="127.0.0.1:24"} 1
# HELP mailtun_handshakes_rejected_total Tunnel handshakes refused, by reason.
# TYPE mailtun_handshakes_rejected_total counter
mailtun_handshakes_rejected_total{interface="vps",reason="bad_mac1"} 4
)");
}

TEST(StatusPrometheus, LabelValuesAreEscaped) {
  StatusReport report;
  report.interface = "a\\b\"c\nd";
  report.peers.push_back({.name = "x", .state = "up"});
  const std::string text = render_prometheus(report);
  EXPECT_NE(text.find(R"(mailtun_peer_up{interface="a\\b\"c\nd",peer="x"} 1)"
                      "\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace mailtun::cli
