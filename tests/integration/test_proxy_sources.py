"""Review finding "the peer chooses the client address in the PROXY header": a stream whose client
address the expose's proxy_sources does not allow is refused before the target is reached, and by
default a peer can never claim to be this host's loopback (DESIGN §5, §7)."""

import time
import unittest

from harness import TunnelTestCase, connect, recv_line, recv_until_eof


class ProxySources(TunnelTestCase):
    def setUp(self):
        super().setUp()
        self.vps, self.office = self.h.vps_and_office()
        self.echo = self.h.echo_server()  # echoes the PROXY header back to the client

    def start(self, proxy_sources=None):
        self.office.add_expose("echo", self.echo.port, ["vps"], protocol="tcp", proxy_protocol="v1",
                               proxy_sources=proxy_sources)
        self.port = self.vps.add_forward("echo", "office", protocol="tcp")
        self.h.start_pair(self.vps, self.office)

    def test_loopback_client_address_is_refused_by_default(self):
        self.start()
        started = time.monotonic()
        with connect(self.port, source="127.0.0.1") as c:
            self.assertEqual(recv_until_eof(c, 4096, started + 5), b"")
        self.office.wait_for_log(r"peer vps: refused a stream for service echo: "
                                 r"client address 127\.0\.0\.1 is not in proxy_sources")
        self.assertEqual(self.echo.accepted, 0, "the target saw a PROXY header claiming loopback")

    def test_a_listed_address_reaches_the_target_and_no_other(self):
        self.start(proxy_sources=["127.0.0.1"])
        started = time.monotonic()
        with connect(self.port, source="127.0.0.1") as c:
            line = recv_line(c, started + 5)
        self.assertTrue(line.startswith(b"PROXY TCP4 127.0.0.1 127.0.0.1 "), line)

        with connect(self.port, source="127.0.0.2") as c:
            self.assertEqual(recv_until_eof(c, 4096, started + 5), b"")
        self.office.wait_for_log(r"client address 127\.0\.0\.2 is not in proxy_sources")
        self.assertEqual(self.echo.accepted, 1)


if __name__ == "__main__":
    unittest.main()
