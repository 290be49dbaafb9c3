"""200 concurrent streams through one tunnel connection, each with its own data, all byte-exact."""

import os
import selectors
import socket
import time
import unittest

from harness import TunnelTestCase, connect, wait_until

STREAMS = 200


class ConcurrentStreams(TunnelTestCase):
    def test_200_concurrent_streams_each_byte_exact(self):
        echo = self.h.echo_server()
        vps, office = self.h.vps_and_office()
        office.add_expose("echo", echo.port, ["vps"], protocol="tcp")
        port = vps.add_forward("echo", "office", protocol="tcp")
        self.h.start_pair(vps, office)

        # Distinct data per stream, of different lengths (4 KiB .. ~400 KiB, some beyond the window).
        payloads = [i.to_bytes(4, "big") + os.urandom(4096 + 2048 * i) for i in range(STREAMS)]
        clients: list[socket.socket] = []
        try:
            for _ in range(STREAMS):
                clients.append(connect(port))
            # Every stream is open at the far end before any data moves: 200 at once, really.
            wait_until(lambda: echo.active >= STREAMS, what=f"{STREAMS} target connections at once")

            sent = [0] * STREAMS
            received = [bytearray() for _ in range(STREAMS)]
            eof = [False] * STREAMS
            sel = selectors.DefaultSelector()
            for i, c in enumerate(clients):
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ | selectors.EVENT_WRITE, i)
            deadline = time.monotonic() + 60
            for _ in range(1_000_000):
                if all(eof) or time.monotonic() > deadline:
                    break
                for key, events in sel.select(timeout=1.0):
                    i = key.data
                    c = clients[i]
                    if events & selectors.EVENT_WRITE and sent[i] < len(payloads[i]):
                        try:
                            sent[i] += c.send(payloads[i][sent[i]:sent[i] + 65536])
                        except BlockingIOError:
                            pass
                        if sent[i] == len(payloads[i]):
                            c.shutdown(socket.SHUT_WR)
                            sel.modify(c, selectors.EVENT_READ, i)
                    if events & selectors.EVENT_READ:
                        try:
                            data = c.recv(1 << 18)
                        except BlockingIOError:
                            continue
                        if data:
                            received[i] += data
                            self.assertLessEqual(len(received[i]), len(payloads[i]), f"stream {i}: too much data")
                        else:
                            eof[i] = True
                            sel.unregister(c)
            sel.close()
        finally:
            for c in clients:
                c.close()

        self.assertEqual(sum(eof), STREAMS, "streams that reached EOF before the deadline")
        wrong = [i for i in range(STREAMS) if bytes(received[i]) != payloads[i]]
        self.assertEqual(wrong, [], "streams whose echo differs from what they sent")
        self.assertGreaterEqual(echo.max_active, STREAMS)
        self.assertEqual(echo.errors, [])


if __name__ == "__main__":
    unittest.main()
