"""kill -9 of the remote endpoint mid-stream: the local clients see a reset, never a clean EOF
(DESIGN §5: a broken stream must never pass for a finished one)."""

import os
import time
import unittest

from harness import TunnelTestCase, connect, read_until_closed, recv_exactly, send_all_chunked, wait_until

PAYLOAD = 64 << 20


class PeerDeath(TunnelTestCase):
    def setUp(self):
        super().setUp()
        self.vps, self.office = self.h.vps_and_office()

    def kill_office_and_wait_down(self):
        self.assertEqual(self.office.kill(), -9)
        self.vps.wait_for_log(r"peer office down: ")

    def assert_reset(self, client, what):
        """Reads what is left; the end must be ECONNRESET, not a clean EOF (FIN)."""
        _, how = read_until_closed(client, time.monotonic() + 10, limit=PAYLOAD)
        self.assertEqual(how, "reset", f"{what}: the connection ended with {how}, not a reset")

    def test_downloading_client_sees_reset(self):
        server = self.h.bulk_server(os.urandom(PAYLOAD), name="push")
        self.office.add_expose("push", server.port, ["vps"], protocol="tcp")
        port = self.vps.add_forward("push", "office", protocol="tcp")
        self.h.start_pair(self.vps, self.office)

        with connect(port) as client:
            recv_exactly(client, 1 << 20, time.monotonic() + 10)  # mid-transfer: 1 of 64 MiB read
            self.kill_office_and_wait_down()
            self.assert_reset(client, "downloading client")

    def test_uploading_client_sees_reset(self):
        # The target only reads (a sink) and has not said a word, not even FIN, when the tunnel dies.
        server = self.h.bulk_server(b"", name="sink", half_close=False)
        self.office.add_expose("sink", server.port, ["vps"], protocol="tcp")
        port = self.vps.add_forward("sink", "office", protocol="tcp")
        self.h.start_pair(self.vps, self.office)

        with connect(port) as client:
            send_all_chunked(client, os.urandom(1 << 20))  # mid-transfer: 1 MiB of a longer upload
            # All of it has arrived: the tunnel is idle, nothing is left unread anywhere, so what the
            # client sees next is exactly what the vps endpoint chooses to do.
            wait_until(lambda: server.received_total >= 1 << 20, what="the sink to receive 1 MiB")
            self.kill_office_and_wait_down()
            self.assert_reset(client, "uploading client")

    def test_lmtp_client_mid_transaction_sees_reset(self):
        # What Postfix does: greeting read, DATA under way when the office dies.
        server = self.h.echo_server(greeting=b"220 office LMTP ready\r\n")
        self.office.add_expose("lmtp", server.port, ["vps"])
        port = self.vps.add_forward("lmtp", "office")
        self.h.start_pair(self.vps, self.office)

        with connect(port) as client:
            recv_exactly(client, len(b"220 office LMTP ready\r\n"), time.monotonic() + 10)
            send_all_chunked(client, os.urandom(256 << 10))
            self.kill_office_and_wait_down()
            self.assert_reset(client, "LMTP client")

    def test_listener_death_resets_dialer_side_clients(self):
        # The other direction: the office's MTA relays through the vps, and the vps dies.
        server = self.h.echo_server(greeting=b"220 vps relay ready\r\n")
        self.vps.add_expose("relay", server.port, ["office"])
        port = self.office.add_forward("relay", "vps")
        self.h.start_pair(self.vps, self.office)

        with connect(port) as client:
            recv_exactly(client, len(b"220 vps relay ready\r\n"), time.monotonic() + 10)
            send_all_chunked(client, os.urandom(256 << 10))
            self.assertEqual(self.vps.kill(), -9)
            self.office.wait_for_log(r"peer vps down: ")
            self.assert_reset(client, "relay client at the office")


if __name__ == "__main__":
    unittest.main()
