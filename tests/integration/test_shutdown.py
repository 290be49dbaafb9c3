"""SIGTERM: exit 0 (DESIGN §8); open streams drain, new connections are refused, and a stream still
open at the drain deadline is reset rather than cut off cleanly."""

import os
import socket
import time
import unittest

from harness import TunnelTestCase, Worker, connect, read_until_closed, recv_exactly, recv_until_eof, send_all_chunked


class Shutdown(TunnelTestCase):
    def setUp(self):
        super().setUp()
        self.echo = self.h.echo_server()
        self.vps, self.office = self.h.vps_and_office()
        self.office.add_expose("echo", self.echo.port, ["vps"], protocol="tcp")
        self.port = self.vps.add_forward("echo", "office", protocol="tcp")

    def test_sigterm_exits_0(self):
        self.h.start_pair(self.vps, self.office)
        started = time.monotonic()
        self.assertEqual(self.office.stop(), 0, "office (dialing side) after SIGTERM")
        self.vps.wait_for_log(r"peer office down: ")
        self.assertEqual(self.vps.stop(), 0, "vps (listening side) after SIGTERM")
        self.assertLess(time.monotonic() - started, 3.0, "idle endpoints should stop at once")

    def test_sigterm_without_peer_exits_0(self):
        self.vps.start()
        self.vps.wait_for_log(r"interface vps up")
        self.assertEqual(self.vps.stop(), 0)

    def test_stream_in_progress_drains_byte_exact(self):
        self.h.start_pair(self.vps, self.office)
        first, second = os.urandom(1 << 20), os.urandom(3 << 20)
        with connect(self.port) as client:
            client.sendall(first)
            self.assertEqual(recv_exactly(client, len(first), time.monotonic() + 10), first)

            self.vps.terminate()
            self.vps.wait_for_log(r"shutting down, draining streams")
            # No new connections while draining ...
            with self.assertRaises(ConnectionRefusedError):
                connect(self.port, timeout=5).close()
            # ... but the open stream carries on to its end.
            deadline = time.monotonic() + 20
            reader = Worker(lambda: recv_until_eof(client, len(second), deadline), name="client-reader")
            send_all_chunked(client, second)
            client.shutdown(socket.SHUT_WR)
            self.assertEqual(reader.join(25), second, "bytes echoed after SIGTERM")

        self.assertEqual(self.vps.wait_exit(timeout=5), 0, "vps exit code after draining")
        self.vps.wait_for_log(r"peer office down: shut down after draining")
        # The office was told (GOAWAY) and is now waiting for the vps to come back.
        self.office.wait_for_log(r"peer vps: going away")
        self.office.wait_for_log(r"peer vps down: ")

    def test_stream_open_at_drain_deadline_is_reset(self):
        self.vps.start("--drain-seconds", "1")
        self.vps.wait_for_log(r"listening for peers on")
        self.office.start()
        self.vps.wait_for_log(r"peer office up")
        with connect(self.port) as client:
            client.sendall(b"still here\n")
            self.assertEqual(recv_exactly(client, 11, time.monotonic() + 10), b"still here\n")
            started = time.monotonic()
            self.vps.terminate()
            # The client never finishes: at the deadline its stream must be reset, not closed.
            rest, how = read_until_closed(client, started + 10)
            waited = time.monotonic() - started
            self.assertEqual((rest, how), (b"", "reset"))
        self.assertGreater(waited, 0.8, "reset before the drain deadline")
        self.assertEqual(self.vps.wait_exit(timeout=5), 0)
        self.assertLess(time.monotonic() - started, 4.0)


if __name__ == "__main__":
    unittest.main()
