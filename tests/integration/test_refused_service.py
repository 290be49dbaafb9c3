"""A stream the far side refuses is answered in the client's protocol, and the refusal is logged
where it happened (DESIGN §4.3 RST codes, §5)."""

import time
import unittest

from harness import TunnelTestCase, connect, free_port, recv_line, recv_until_eof


class RefusedService(TunnelTestCase):
    def setUp(self):
        super().setUp()
        self.vps, self.office = self.h.vps_and_office()

    def read_reply(self, port):
        """The one line the vps forward answers with, then EOF."""
        started = time.monotonic()
        with connect(port) as c:
            line = recv_line(c, started + 5)
            rest = recv_until_eof(c, 4096, started + 5)
        return line, rest

    def test_service_not_exposed_at_all(self):
        port = self.vps.add_forward("imap", "office")  # the office exposes no imap
        self.h.start_pair(self.vps, self.office)

        line, rest = self.read_reply(port)
        self.assertTrue(line.startswith(b"* BYE [UNAVAILABLE] "), line)
        self.assertTrue(line.endswith(b"\r\n"), line)
        self.assertEqual(rest, b"")
        self.office.wait_for_log(r"peer vps: refused a stream for service imap: not exposed here")
        self.assertEqual(self.office.count_log(r"peer vps down"), 0, "a refused stream must not end the tunnel")

    def test_service_exposed_only_to_another_peer(self):
        other = self.h.endpoint("other")  # never started; the office only ever fails to dial it
        self.office.add_peer(other, dial_port=free_port())
        pop3_target = self.h.echo_server(greeting=b"+OK pop3 ready\r\n")
        self.office.add_expose("pop3", pop3_target.port, ["other"])
        port = self.vps.add_forward("pop3", "office")
        self.h.start_pair(self.vps, self.office)

        line, rest = self.read_reply(port)
        self.assertTrue(line.startswith(b"-ERR [SYS/TEMP] "), line)
        self.assertEqual(rest, b"")
        self.office.wait_for_log(r"peer vps: refused a stream for service pop3: not exposed to this peer")
        self.assertEqual(pop3_target.accepted, 0, "the target was reached anyway")

    def test_exposed_target_down(self):
        dead_port = free_port()  # nothing listens here
        self.office.add_expose("lmtp", dead_port, ["vps"])
        port = self.vps.add_forward("lmtp", "office")
        self.h.start_pair(self.vps, self.office)

        line, rest = self.read_reply(port)
        self.assertTrue(line.startswith(b"421 4.4.1 "), line)
        self.assertEqual(rest, b"")
        self.office.wait_for_log(r"service lmtp: cannot reach 127\.0\.0\.1:%d" % dead_port)


if __name__ == "__main__":
    unittest.main()
