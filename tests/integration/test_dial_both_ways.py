"""Both sides configured to dial each other (each also listens): they settle on one connection, the
one dialed by the side with the lower public key, and neither drops it."""

import os
import socket
import time
import unittest

from harness import TunnelTestCase, connect, recv_until_eof


class DialBothWays(TunnelTestCase):
    def test_one_connection_survives(self):
        a = self.h.endpoint("a", listen=True)
        b = self.h.endpoint("b", listen=True)
        a.add_peer(b, dial_port=b.listen_port)
        b.add_peer(a, dial_port=a.listen_port)
        echo = self.h.echo_server()
        b.add_expose("echo", echo.port, ["a"], protocol="tcp")
        port = a.add_forward("echo", "b", protocol="tcp")
        a.start()
        b.start()
        a.wait_for_log(r"peer b up \(endpoint ")
        b.wait_for_log(r"peer a up \(endpoint ")

        # Traffic works, and keeps working over the settled connection.
        for _ in range(3):
            data = os.urandom(50_000)
            with connect(port) as c:
                c.sendall(data)
                c.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_until_eof(c, len(data), time.monotonic() + 10), data)
        # Neither side lost its peer; each swapped at most once, to the agreed connection.
        for e, other in ((a, "b"), (b, "a")):
            self.assertEqual(e.count_log(rf"peer {other} down"), 0, e.name)
            self.assertLessEqual(e.count_log(r"takes over from the one|fresh session with"), 1, e.name)


if __name__ == "__main__":
    unittest.main()
