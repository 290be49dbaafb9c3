"""A stalled reader holds back only its own stream (per-stream flow control, DESIGN §4.3)."""

import os
import time
import unittest

from harness import TunnelTestCase, connect, recv_hash_until_eof, sha256, wait_until

WINDOW = 256 << 10
STALLED_SIZE = 16 << 20
OTHER_SIZE = 8 << 20


class StalledReader(TunnelTestCase):
    def test_stalled_stream_does_not_slow_another(self):
        stalled_payload = os.urandom(STALLED_SIZE)
        other_payload = os.urandom(OTHER_SIZE)
        stalled_server = self.h.bulk_server(stalled_payload, name="push-a")
        other_server = self.h.bulk_server(other_payload, name="push-b")
        vps, office = self.h.vps_and_office()
        office.add_expose("push-a", stalled_server.port, ["vps"], protocol="tcp")
        office.add_expose("push-b", other_server.port, ["vps"], protocol="tcp")
        port_a = vps.add_forward("push-a", "office", protocol="tcp")
        port_b = vps.add_forward("push-b", "office", protocol="tcp")
        self.h.start_pair(vps, office)

        with connect(port_a) as a:
            # A never reads: its server pushes until every buffer on the way is full, well past
            # the window, and then makes no more progress.
            wait_until(lambda: stalled_server.sent_total > WINDOW, what="stream A's server to push past the window")
            progress = [stalled_server.sent_total]

            def stalled() -> bool:
                now = stalled_server.sent_total
                still = now == progress[0]
                progress[0] = now
                return still
            # Bounded: "stalled" means no progress between two polls 0.2 s apart.
            for _ in range(50):
                time.sleep(0.2)
                if stalled():
                    break
            stalled_at = stalled_server.sent_total
            self.assertLess(stalled_at, STALLED_SIZE, "stream A was supposed to be stalled")

            started = time.monotonic()
            with connect(port_b) as b:
                count, digest = recv_hash_until_eof(b, OTHER_SIZE, started + 10)
            elapsed = time.monotonic() - started
            self.assertEqual((count, digest), (OTHER_SIZE, sha256(other_payload)), "stream B")
            self.assertLess(elapsed, 5.0, "stream B took too long beside a stalled stream")
            print(f"\nstream B: 8 MiB in {elapsed:.2f} s beside a stream stalled at {stalled_at >> 10} KiB sent")

            # A stayed where it was while B ran, and now reads to the end, byte-exact.
            self.assertLess(stalled_server.sent_total, STALLED_SIZE)
            count, digest = recv_hash_until_eof(a, STALLED_SIZE, time.monotonic() + 30)
            self.assertEqual((count, digest), (STALLED_SIZE, sha256(stalled_payload)), "stream A")


if __name__ == "__main__":
    unittest.main()
