"""The dialing side reconnects after the listening side restarts (DESIGN §4.4)."""

import os
import socket
import time
import unittest

from harness import TunnelTestCase, connect, recv_until_eof


def echo_round_trip(test, port, size=64 << 10):
    data = os.urandom(size)
    with connect(port) as c:
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        test.assertEqual(recv_until_eof(c, size, time.monotonic() + 10), data)


class Reconnect(TunnelTestCase):
    def test_office_reconnects_after_vps_restart(self):
        echo = self.h.echo_server()
        vps, office = self.h.vps_and_office()
        office.add_expose("echo", echo.port, ["vps"], protocol="tcp")
        port = vps.add_forward("echo", "office", protocol="tcp")
        self.h.start_pair(vps, office)
        echo_round_trip(self, port)

        self.assertEqual(vps.stop(), 0, "vps exit code after SIGTERM")
        office.wait_for_log(r"peer vps down: ")
        # While the vps is away the office keeps trying (logged once per distinct failure).
        office.wait_for_log(r"peer vps: cannot connect to 127\.0\.0\.1:\d+: .*; retrying")

        started = time.monotonic()
        vps.start()  # same ports, same keys, fresh process and log
        vps.wait_for_log(r"peer office up \(endpoint ", timeout=40)
        office.wait_for_log(r"peer vps up \(endpoint ", count=2, timeout=40)
        print(f"\nreconnected {time.monotonic() - started:.2f} s after the vps came back")
        echo_round_trip(self, port)
        self.assertTrue(office.running())


if __name__ == "__main__":
    unittest.main()
