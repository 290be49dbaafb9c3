#pragma once
// A status report as a VPS endpoint would give one mid-day: one peer up, one backing off after a
// failure, two forwards and an expose, some rejected handshakes. Shared by the renderer, server
// and command tests.

#include "cli/status_report.hpp"

namespace mailtun::testing {

inline cli::StatusReport sample_status() {
  cli::StatusReport r;
  r.interface = "vps";
  r.public_key = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
  r.listen = "0.0.0.0:7424";
  r.uptime_seconds = 7384.5;
  r.version = "0.1.0";
  cli::PeerStatus office;
  office.name = "office";
  office.public_key = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=";
  office.state = "up";
  office.endpoint = "203.0.113.7:51234";
  office.seconds_since_handshake = 65.2;
  office.session_age_seconds = 3725.0;
  office.rtt_ms = 0.42;
  office.bytes_in = 1289748;
  office.bytes_out = 466944;
  office.streams_open = 2;
  office.streams_total = 1234;
  office.reconnects = 3;
  office.last_error = "connection reset by peer";
  r.peers.push_back(office);
  cli::PeerStatus backup;
  backup.name = "backup";
  backup.public_key = "XkNZ2JZt6Q0QwJqvP7k2b1oXG6kM3hG7y8zYvB2dE0c=";
  backup.state = "down";
  backup.endpoint = "backup.example.org:7424";
  backup.last_error = "connect to 198.51.100.9:7424: connection refused";
  r.peers.push_back(backup);
  r.services.push_back({.kind = "forward",
                        .service = "lmtp",
                        .address = "127.0.0.1:24",
                        .peers = {"office"},
                        .streams_open = 1,
                        .streams_total = 56,
                        .unavailable = 2,
                        .errors = 0});
  r.services.push_back({.kind = "forward",
                        .service = "dovecot-auth",
                        .address = "127.0.0.1:3659",
                        .peers = {"office", "backup"},
                        .streams_open = 1,
                        .streams_total = 1170,
                        .unavailable = 0,
                        .errors = 1});
  r.services.push_back({.kind = "expose",
                        .service = "relay",
                        .address = "127.0.0.1:10025",
                        .peers = {"office"},
                        .streams_open = 0,
                        .streams_total = 8,
                        .unavailable = 0,
                        .errors = 0});
  r.rejected_handshakes = {{"bad_mac1", 2}, {"unknown_peer", 1}, {"rate_limited", 0}};
  return r;
}

}  // namespace mailtun::testing
