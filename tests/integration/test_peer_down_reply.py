"""A forward whose peer is down answers at once in its protocol and closes (DESIGN §5): Postfix
defers with "421 4.4.1" instead of waiting or bouncing."""

import os
import signal
import time
import unittest

from harness import TunnelTestCase, connect, recv_line, recv_until_eof

FAST = 0.5  # seconds: "well under a second"


class PeerDownReply(TunnelTestCase):
    def setUp(self):
        super().setUp()
        self.vps, self.office = self.h.vps_and_office()
        self.lmtp = self.vps.add_forward("lmtp", "office")
        self.smtp = self.vps.add_forward("submission", "office")

    def assert_421_fast(self, port):
        started = time.monotonic()
        with connect(port) as c:
            line = recv_line(c, started + 5)
            rest = recv_until_eof(c, 4096, started + 5)
        elapsed = time.monotonic() - started
        self.assertTrue(line.startswith(b"421 4.4.1 "), line)
        self.assertTrue(line.endswith(b"\r\n"), line)
        self.assertEqual(rest, b"", "anything after the 421 line")
        self.assertLess(elapsed, FAST, f"the 421 and the close took {elapsed:.3f} s")

    def test_office_never_started(self):
        self.vps.start()
        self.vps.wait_for_log(r"interface vps up")
        self.assert_421_fast(self.lmtp)
        self.assert_421_fast(self.smtp)

    def test_office_gone(self):
        self.h.start_pair(self.vps, self.office)
        self.office.kill()
        self.vps.wait_for_log(r"peer office down: ")
        self.assert_421_fast(self.lmtp)

    def test_office_gone_dark(self):
        """Issue 13, "a peer that goes dark without closing": the office stops (SIGSTOP), its socket
        stays open. A new LMTP client must hear 421 within seconds, not after 3 x keepalive (45 s)."""
        self.h.start_pair(self.vps, self.office)
        os.kill(self.office.pid, signal.SIGSTOP)  # the PID this test started
        self.addCleanup(os.kill, self.office.pid, signal.SIGCONT)
        # What is under test is a connection that has been quiet for a while: let it be (the probe
        # starts after 2 s without a record; keepalive is 15 s).
        time.sleep(2.5)
        started = time.monotonic()
        with connect(self.lmtp) as c:
            line = recv_line(c, started + 20)
        elapsed = time.monotonic() - started
        self.assertTrue(line.startswith(b"421 4.4.1 "), line)
        self.assertLess(elapsed, 8, f"the 421 took {elapsed:.1f} s")


if __name__ == "__main__":
    unittest.main()
