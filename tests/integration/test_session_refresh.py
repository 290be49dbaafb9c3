"""Session refresh (docs/design.md "Session refresh"): the dialing side makes a fresh handshake every
max_session_age, make-before-break. New streams go to the new connection at once; streams on the old
one run to their end; a stream opened while the two connections trade places never fails."""

import os
import socket
import time
import unittest

from harness import TunnelTestCase, Worker, connect, recv_exactly, recv_hash_until_eof, recv_line, send_all_chunked, sha256

FRESH = r"peer vps: fresh session with "            # the office (dialing side) switched
TAKEN_OVER = r"peer office: new connection from .* takes over"  # the vps (listening side) switched
DRAINED = r"the previous connection from .* closed: shut down after draining"


class SessionRefresh(TunnelTestCase):
    def setUp(self):
        super().setUp()
        self.vps, self.office = self.h.vps_and_office()
        self.office.peers[0].max_session_age = 1  # seconds: a refresh every second

    def refreshes(self) -> int:
        return self.vps.count_log(TAKEN_OVER)

    def test_a_64_mib_transfer_spanning_a_refresh_is_byte_exact(self):
        size = 64 << 20
        to_office, from_office = os.urandom(size), os.urandom(size)
        server = self.h.bulk_server(from_office, name="bulk")
        self.office.add_expose("bulk", server.port, ["vps"], protocol="tcp")
        port = self.vps.add_forward("bulk", "office", protocol="tcp")
        self.h.start_pair(self.vps, self.office)

        deadline = time.monotonic() + 60
        with connect(port) as client:
            reader = Worker(lambda: recv_hash_until_eof(client, size, deadline), name="client-reader")
            send_all_chunked(client, to_office[: size // 2])
            # The stream's connection is replaced while it is half done; the rest follows on it.
            before = self.refreshes()
            self.vps.wait_for_log(TAKEN_OVER, count=before + 1)
            send_all_chunked(client, to_office[size // 2:])
            client.shutdown(socket.SHUT_WR)
            received, received_hash = reader.join(60)
        result = server.wait_results(1, timeout=60)[0]
        self.assertIsNone(result.error)
        self.assertEqual((result.received_bytes, result.received_sha256), (size, sha256(to_office)))
        self.assertEqual((received, received_hash), (size, sha256(from_office)))
        # The old connection closed once its stream was done, gracefully, and the peer never went down.
        self.vps.wait_for_log(DRAINED)
        self.assertEqual(self.vps.count_log(r"peer office down"), 0)
        self.assertEqual(self.office.count_log(r"peer vps down"), 0)

    def test_streams_opened_during_refreshes_never_fail(self):
        lmtp = self.h.echo_server(b"220 office LMTP\r\n")
        relay = self.h.echo_server(b"220 vps relay\r\n")
        self.office.add_expose("lmtp", lmtp.port, ["vps"])
        self.vps.add_expose("relay", relay.port, ["office"])
        inbound = self.vps.add_forward("lmtp", "office")      # opened by the listening side
        outbound = self.office.add_forward("relay", "vps")    # opened by the dialing side
        self.h.start_pair(self.vps, self.office)

        first = self.refreshes()
        failures, done = [], 0
        stop_at = time.monotonic() + 20
        for i in range(50_000):  # bounded in count and time; ends once 4 refreshes have passed
            if time.monotonic() > stop_at or self.refreshes() >= first + 4:
                break
            port, greeting = (inbound, b"220 office LMTP\r\n") if i % 2 == 0 else (outbound, b"220 vps relay\r\n")
            try:
                with connect(port) as c:
                    deadline = time.monotonic() + 10
                    line = recv_line(c, deadline)
                    c.sendall(b"NOOP %d\r\n" % i)
                    echo = recv_exactly(c, len(b"NOOP %d\r\n" % i), deadline)
                if line != greeting or echo != b"NOOP %d\r\n" % i:
                    failures.append((i, line, echo))
            except OSError as e:
                failures.append((i, repr(e)))
            done += 1
        self.assertGreaterEqual(self.refreshes(), first + 4, f"only {self.refreshes() - first} refreshes in 20 s")
        self.assertEqual(failures, [], f"{len(failures)} of {done} streams failed")
        self.assertGreater(done, 20)

    def test_a_new_endpoint_on_reload_takes_over_while_an_open_stream_carries_on(self):
        self.office.peers[0].max_session_age = None  # the default: no refresh during this test
        echo = self.h.echo_server(b"220 office\r\n")
        self.office.add_expose("lmtp", echo.port, ["vps"])
        port = self.vps.add_forward("lmtp", "office")
        self.h.start_pair(self.vps, self.office)
        proxy = self.h.proxy(self.vps.listen_port)
        with connect(port) as c:
            deadline = time.monotonic() + 20
            self.assertEqual(recv_line(c, deadline), b"220 office\r\n")
            self.office.dial_via("vps", proxy.port)
            self.assertIn("reloaded", self.office.reload())
            # Dialed at once, not when the current connection ends.
            self.vps.wait_for_log(TAKEN_OVER)
            proxy.wait_for(lambda conns: len(conns) == 1)
            c.sendall(b"NOOP\r\n")
            self.assertEqual(recv_exactly(c, 6, deadline), b"NOOP\r\n")
        # New streams take the new connection, through the proxy.
        with connect(port) as c:
            self.assertEqual(recv_line(c, time.monotonic() + 10), b"220 office\r\n")
        self.vps.wait_for_log(DRAINED)
        self.assertEqual(self.vps.count_log(r"peer office down"), 0)

    def test_at_most_two_replaced_connections_drain_at_once(self):
        echo = self.h.echo_server(b"220 office\r\n")
        self.office.add_expose("lmtp", echo.port, ["vps"])
        port = self.vps.add_forward("lmtp", "office")
        self.h.start_pair(self.vps, self.office)
        cap = r"more than 2 replaced connections still draining"
        clients = []
        try:
            # One long stream per session in turn, until a third replaced connection is still busy
            # (three refreshes; more if a stream happened to open just after one).
            for _ in range(8):
                before = self.refreshes()
                c = connect(port)
                clients.append(c)
                self.assertEqual(recv_line(c, time.monotonic() + 10), b"220 office\r\n")
                self.vps.wait_for_log(TAKEN_OVER, count=before + 1)
                if self.vps.count_log(cap):
                    break
            self.vps.wait_for_log(cap)
            # The oldest connection was closed, and the first stream reset with it; the newest carries on.
            with self.assertRaises(ConnectionResetError):
                clients[0].recv(100)
            clients[-1].sendall(b"NOOP\r\n")
            self.assertEqual(recv_exactly(clients[-1], 6, time.monotonic() + 10), b"NOOP\r\n")
        finally:
            for c in clients:
                c.close()

    def test_status_shows_the_session_age_and_a_refresh_is_no_reconnect(self):
        self.h.start_pair(self.vps, self.office)
        self.vps.wait_for_log(TAKEN_OVER, count=2)
        for endpoint, peer in ((self.office, "vps"), (self.vps, "office")):
            status = endpoint.status()
            p = next(p for p in status["peers"] if p["name"] == peer)
            self.assertEqual(p["state"], "up")
            self.assertEqual(p["reconnects"], 0, endpoint.name)
            self.assertIsNotNone(p["session_age_seconds"])
            self.assertLess(p["session_age_seconds"], status["uptime_seconds"])
            self.assertLess(p["session_age_seconds"], 3)


if __name__ == "__main__":
    unittest.main()
