"""64 MiB each way at once through one stream, byte-exact (SHA-256 of each direction)."""

import os
import socket
import time
import unittest

from harness import TunnelTestCase, Worker, connect, recv_hash_until_eof, send_all_chunked, sha256

SIZE = 64 << 20


class BulkBothWays(TunnelTestCase):
    def test_64_mib_each_way_at_once_is_byte_exact(self):
        to_office = os.urandom(SIZE)
        from_office = os.urandom(SIZE)
        # The target sends its own 64 MiB while it reads the client's.
        server = self.h.bulk_server(from_office, name="bulk")
        vps, office = self.h.vps_and_office()
        office.add_expose("bulk", server.port, ["vps"], protocol="tcp")
        port = vps.add_forward("bulk", "office", protocol="tcp")
        self.h.start_pair(vps, office)

        started = time.monotonic()
        deadline = started + 60
        with connect(port) as client:
            reader = Worker(lambda: recv_hash_until_eof(client, SIZE, deadline), name="client-reader")
            send_all_chunked(client, to_office)
            client.shutdown(socket.SHUT_WR)
            received, received_hash = reader.join(60)
        result = server.wait_results(1, timeout=60)[0]
        elapsed = time.monotonic() - started

        self.assertIsNone(result.error)
        self.assertEqual(result.received_bytes, SIZE, "vps -> office: byte count")
        self.assertEqual(result.received_sha256, sha256(to_office), "vps -> office: content")
        self.assertEqual(received, SIZE, "office -> vps: byte count")
        self.assertEqual(received_hash, sha256(from_office), "office -> vps: content")
        print(f"\n2 x 64 MiB through one stream in {elapsed:.2f} s "
              f"({2 * SIZE / elapsed / 1e6:.0f} MB/s combined)")


if __name__ == "__main__":
    unittest.main()
