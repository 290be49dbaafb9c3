"""`mailtun status` against a running pair (issue: installed and run as a service): per peer its
state, endpoint, handshake age, RTT, bytes, streams and reconnects with the last error; per forward
and expose its streams, 421 replies and errors; refused handshakes by reason. The counters move
with the traffic; the text fits 80 columns; the Prometheus endpoint serves the same counters."""

import http.client
import os
import time
import unittest

from harness import (LOOPBACK, SOCKET_TIMEOUT, TunnelTestCase, connect, free_port, recv_exactly, recv_line,
                     run_mailtun, wait_until)


def peer(report: dict, name: str) -> dict:
    return next(p for p in report["peers"] if p["name"] == name)


def service(report: dict, kind: str, name: str) -> dict:
    return next(s for s in report["services"] if s["kind"] == kind and s["service"] == name)


class Status(TunnelTestCase):
    def setUp(self):
        super().setUp()
        self.vps, self.office = self.h.vps_and_office()
        self.echo = self.h.echo_server()
        self.office.add_expose("echo", self.echo.port, ["vps"], protocol="tcp")
        self.echo_port = self.vps.add_forward("echo", "office", protocol="tcp")
        self.lmtp_port = self.vps.add_forward("lmtp", "office")
        self.vps.metrics_port = free_port()

    def test_counters_move_with_the_traffic_and_the_peer_state(self):
        self.h.start_pair(self.vps, self.office)
        wait_until(lambda: peer(self.vps.status(), "office")["rtt_ms"] is not None, what="an RTT from PING/PONG")
        before = self.vps.status()
        office = peer(before, "office")
        self.assertEqual(office["state"], "up")
        self.assertTrue(office["endpoint"].startswith(LOOPBACK + ":"), office)
        self.assertLess(office["seconds_since_handshake"], 30)
        self.assertEqual(office["reconnects"], 0)
        self.assertEqual(service(before, "forward", "echo")["streams_total"], 0)

        payload = os.urandom(300_000)
        with connect(self.echo_port) as c:
            c.sendall(payload)
            self.assertEqual(recv_exactly(c, len(payload), time.monotonic() + SOCKET_TIMEOUT), payload)
            during = self.vps.status()
            self.assertEqual(peer(during, "office")["streams_open"], 1)
            self.assertEqual(service(during, "forward", "echo")["streams_open"], 1)
        after = peer(self.vps.status(), "office")
        self.assertGreater(after["bytes_out"], office["bytes_out"] + len(payload))
        self.assertGreater(after["bytes_in"], office["bytes_in"] + len(payload))
        self.assertGreaterEqual(after["streams_total"], office["streams_total"] + 1)
        wait_until(lambda: service(self.vps.status(), "forward", "echo")["streams_open"] == 0, what="the stream gone")
        self.assertEqual(service(self.vps.status(), "forward", "echo")["streams_total"], 1)
        self.assertEqual(service(self.office.status(), "expose", "echo")["streams_total"], 1)

        # The office goes away: state, reconnects and the last error say so; LMTP clients get 421s.
        self.office.kill()
        self.vps.wait_for_log(r"peer office down: ")
        down = self.vps.status()
        self.assertEqual(peer(down, "office")["state"], "waiting")
        self.assertEqual(peer(down, "office")["reconnects"], 1)
        self.assertNotEqual(peer(down, "office")["last_error"], "")
        for _ in range(3):
            with connect(self.lmtp_port) as c:
                self.assertTrue(recv_line(c, time.monotonic() + SOCKET_TIMEOUT).startswith(b"421 "))
        self.assertEqual(service(self.vps.status(), "forward", "lmtp")["unavailable"], 3)

        # A stranger's garbage is counted by reason.
        with connect(self.vps.listen_port, source="127.0.0.2") as c:
            c.sendall(b"\x00\x80" + os.urandom(128))
        wait_until(lambda: self.vps.status()["rejected_handshakes"].get("malformed", 0) >= 1,
                   what="the garbage counted as malformed")

    def test_text_fits_80_columns_and_metrics_serve_the_same_counters(self):
        self.h.start_pair(self.vps, self.office)
        text = run_mailtun("status", "--socket", str(self.vps.control_socket)).decode()
        self.assertIn("office", text)
        self.assertIn("(up)", text)
        for line in text.splitlines():
            self.assertLessEqual(len(line), 80, line)

        conn = http.client.HTTPConnection(LOOPBACK, self.vps.metrics_port, timeout=SOCKET_TIMEOUT)
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        body = response.read().decode()
        conn.close()
        self.assertEqual(response.status, 200)
        self.assertIn("text/plain; version=0.0.4", response.getheader("Content-Type"))
        self.assertRegex(body, r'(?m)^mailtun_peer_up\{[^}]*peer="office"[^}]*\} 1$')

    def test_a_second_endpoint_on_the_same_control_socket_is_refused(self):
        self.vps.start()
        self.vps.wait_for_log(r"interface vps up")
        twin = self.h.endpoint("vps-twin", listen=True)
        twin.add_peer(self.office)
        own_text = twin.config_text
        twin.config_text = lambda: own_text().replace(str(twin.control_socket), str(self.vps.control_socket))
        twin.start()
        self.assertEqual(twin.wait_exit(10), 1)
        self.assertIn(f"control socket {self.vps.control_socket} is in use by another running mailtun",
                      twin.log_text())


if __name__ == "__main__":
    unittest.main()
