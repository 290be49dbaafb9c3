"""Failover (docs/design.md "Failover"): an office connected to two VPS endpoints, primary and
backup MX. Its relay forward lists both, `peers = ["vps1", "vps2"]`: each new stream goes to the
first peer that is up, in that order, and the client hears "unavailable" only when neither is.
Inbound, each VPS delivers over its own connection, so mail arrives through whichever is up."""

import time
import unittest

from harness import TunnelTestCase, connect, recv_exactly, recv_line

GREETING = {"vps1": b"220 vps1 relay\r\n", "vps2": b"220 vps2 relay\r\n"}


class Failover(TunnelTestCase):
    def setUp(self):
        super().setUp()
        h = self.h
        self.office = h.endpoint("office")
        self.vps = {name: h.endpoint(name, listen=True) for name in ("vps1", "vps2")}
        # Each VPS's relay target says which VPS it is; the office's LMTP answers both.
        lmtp = h.echo_server(b"220 office lmtp\r\n")
        for name, vps in self.vps.items():
            psk = h.genpsk(f"office-{name}")
            vps.add_peer(self.office, psk_file=psk)
            self.office.add_peer(vps, dial_port=vps.listen_port, psk_file=psk)
            vps.add_expose("relay", h.echo_server(GREETING[name]).port, ["office"])
            vps.add_forward("lmtp", "office")
        self.office.add_expose("lmtp", lmtp.port, ["vps1", "vps2"])
        self.relay = self.office.add_forward("relay", ["vps1", "vps2"])

    def start_all(self):
        for vps in self.vps.values():
            vps.start()
            vps.wait_for_log(r"listening for peers on")
        self.office.start()
        for name in self.vps:
            self.office.wait_for_log(rf"peer {name} up \(endpoint ")

    def relay_greeting(self) -> bytes:
        """The first line a new relay client hears, and that the stream carries data both ways."""
        with connect(self.relay) as c:
            deadline = time.monotonic() + 10
            line = recv_line(c, deadline)
            if line.startswith(b"220 vps"):
                c.sendall(b"EHLO office\r\n")
                self.assertEqual(recv_exactly(c, 13, deadline), b"EHLO office\r\n")
            return line

    def lmtp_greeting(self, vps: str) -> bytes:
        with connect(self.vps[vps].forward_port("lmtp")) as c:
            return recv_line(c, time.monotonic() + 10)

    def test_new_streams_go_to_the_first_live_peer_in_order(self):
        self.start_all()
        for _ in range(5):
            self.assertEqual(self.relay_greeting(), GREETING["vps1"])

        # The primary goes away: the next relay goes to the backup, and never hears "unavailable".
        self.vps["vps1"].kill()
        self.office.wait_for_log(r"peer vps1 down: ")
        for _ in range(5):
            self.assertEqual(self.relay_greeting(), GREETING["vps2"])
        # Inbound mail arrives through the backup MX meanwhile.
        self.assertEqual(self.lmtp_greeting("vps2"), b"220 office lmtp\r\n")

        # The primary is back: new streams prefer it again.
        self.vps["vps1"].start()
        self.office.wait_for_log(r"peer vps1 up \(endpoint ", count=2)
        self.assertEqual(self.relay_greeting(), GREETING["vps1"])

    def test_a_stream_on_the_backup_lives_on_when_the_primary_returns(self):
        self.start_all()
        self.vps["vps1"].kill()
        self.office.wait_for_log(r"peer vps1 down: ")
        with connect(self.relay) as c:
            deadline = time.monotonic() + 20
            self.assertEqual(recv_line(c, deadline), GREETING["vps2"])
            self.vps["vps1"].start()
            self.office.wait_for_log(r"peer vps1 up \(endpoint ", count=2)
            c.sendall(b"QUIT\r\n")
            self.assertEqual(recv_exactly(c, 6, deadline), b"QUIT\r\n")

    def test_unavailable_only_when_no_peer_is_up(self):
        self.start_all()
        self.vps["vps2"].kill()
        self.office.wait_for_log(r"peer vps2 down: ")
        self.assertEqual(self.relay_greeting(), GREETING["vps1"])  # the backup's loss changes nothing
        self.vps["vps1"].kill()
        self.office.wait_for_log(r"peer vps1 down: ")
        line = self.relay_greeting()
        self.assertTrue(line.startswith(b"421 4.4.1 "), line)
        self.assertIn(b"peers vps1, vps2 unavailable", line)
        self.assertEqual(self.office.status()["services"][0]["peers"], ["vps1", "vps2"])


if __name__ == "__main__":
    unittest.main()
