"""Hostile handshakes get zero bytes, and the endpoint keeps serving the real peer (DESIGN §4.1).

Each test ends by checking that a fresh connection through the vps forward still works over the
real office's connection, which was never dropped ("peer office down" is never logged)."""

import os
import re
import socket
import struct
import threading
import time
import unittest

from harness import TunnelTestCase, Worker, connect, read_until_closed, recv_until_eof, wait_until

MESSAGE1_LEN = 130  # u16 length | type 1 | 3 zero | e 32 | s 48 | payload 28 | mac1 16
# If the responder has not closed by then, it is waiting for the 5 s handshake deadline instead
# of rejecting what it got (rule 1).
PROMPT_CLOSE = 4.0


class HostileHandshakes(TunnelTestCase):
    def setUp(self):
        super().setUp()
        self.echo = self.h.echo_server()

    def start(self, office_dials=None):
        vps, office = self.h.vps_and_office(office_dials=office_dials)
        office.add_expose("echo", self.echo.port, ["vps"], protocol="tcp")
        self.forward_port = vps.add_forward("echo", "office", protocol="tcp")
        self.h.start_pair(vps, office)
        self.vps, self.office = vps, office
        return vps, office

    def send_and_expect_silence(self, data: bytes, source: str, within: float = PROMPT_CLOSE):
        """Sends `data` to the vps tunnel port; the vps must close without sending one byte."""
        started = time.monotonic()
        with connect(self.vps.listen_port, source=source) as s:
            s.sendall(data)
            got, how = read_until_closed(s, started + within + 4)
        elapsed = time.monotonic() - started
        self.assertEqual(got, b"", "the vps sent bytes to a stranger")
        self.assertNotEqual(how, "timeout", f"the vps did not close within {within + 4:.0f} s")
        self.assertLess(elapsed, within, f"closed ({how}) only after {elapsed:.1f} s")
        return elapsed

    def assert_real_peer_unaffected(self):
        data = os.urandom(100_000)
        with connect(self.forward_port) as c:
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_eof(c, len(data), time.monotonic() + 10), data)
        for e in (self.vps, self.office):
            self.assertTrue(e.running(), f"{e.name} exited")
        self.assertEqual(self.vps.count_log(r"peer office down"), 0)
        self.assertEqual(self.office.count_log(r"peer vps down"), 0)
        self.assertEqual(self.vps.count_log(r"peer office up"), 1)
        self.assertEqual(self.vps.count_log(r"takes over from the one"), 0)

    # (a) garbage

    def test_random_bytes_get_nothing(self):
        self.start()
        self.send_and_expect_silence(os.urandom(4096), source="127.0.0.2")
        # Right framing (length, type 1, zero padding), random body: fails mac1.
        framed = struct.pack(">HB3x", MESSAGE1_LEN - 2, 1) + os.urandom(MESSAGE1_LEN - 6)
        self.send_and_expect_silence(framed, source="127.0.0.2")
        # A message 2 sent to the responder: wrong type.
        wrong_type = struct.pack(">HB3x", 64 + 4, 2) + os.urandom(64)
        self.send_and_expect_silence(wrong_type, source="127.0.0.2")
        # Rejected by the handshake (rule 1), not merely by the rate limiter (rule 2).
        self.vps.wait_for_log(r"handshake from 127\.0\.0\.2:\d+ refused", count=3)
        # Garbage is a scanner's, logged quietly; a well-framed message 1 with a wrong mac1 is most
        # likely a peer with the wrong public key for the vps, and the admin is told so.
        self.assertEqual(self.vps.count_log(r"warning: handshake from 127\.0\.0\.2:\d+ refused: it is not addressed "
                                            r"to this endpoint's public key"), 1)
        self.assert_real_peer_unaffected()

    def test_silent_connection_is_closed_after_handshake_deadline(self):
        self.start()
        started = time.monotonic()
        with connect(self.vps.listen_port, source="127.0.0.2") as s:
            s.sendall(struct.pack(">HB", MESSAGE1_LEN - 2, 1))  # the start of a message 1, then nothing
            got, how = read_until_closed(s, started + 10)
        elapsed = time.monotonic() - started
        self.assertEqual(got, b"")
        self.assertNotEqual(how, "timeout", "the vps never closed a connection that sent nothing")
        self.assertGreater(elapsed, 4.0, "closed before the 5 s handshake deadline")
        self.assertLess(elapsed, 8.0, "not closed at the 5 s handshake deadline")
        self.assert_real_peer_unaffected()

    # (b) a well-formed message 1 from a key the vps does not know

    def test_unknown_initiator_key_gets_nothing(self):
        vps, _ = self.start()
        proxy = self.h.proxy(vps.listen_port, source="127.0.0.2", name="rogue-proxy")
        rogue = self.h.endpoint("rogue")
        rogue.add_peer(vps, dial_port=proxy.port, name="vps")  # knows the vps's public key
        rogue.start()
        proxy.wait_for(lambda conns: any(len(c.to_server) >= MESSAGE1_LEN and c.server_closed.is_set()
                                         for c in conns),
                       what="a complete message 1 from the rogue, and the vps closing that connection")
        rogue.wait_for_log(r"peer vps: .*; retrying")
        rogue.stop()
        conns = list(proxy.connections)
        self.assertGreaterEqual(len(conns), 1)
        for c in conns:
            self.assertEqual(bytes(c.to_client), b"", "the vps answered the rogue")
        first = bytes(conns[0].to_server[:MESSAGE1_LEN])
        self.assertEqual(first[:6], struct.pack(">HB3x", MESSAGE1_LEN - 2, 1), "the rogue sent a real message 1")
        self.assertEqual(rogue.count_log(r"peer vps up"), 0)
        # Both admins find the key mistake in one look: the vps names the unknown key, the rogue
        # hears that the vps does not know its key.
        self.vps.wait_for_log(r"warning: handshake from 127\.0\.0\.2:\d+ refused: its public key " +
                              re.escape(rogue.public_key) + r" is not the public_key of any \[\[peer\]\]")
        self.assertGreaterEqual(rogue.count_log(r"warning: peer vps: the peer closed the connection during the "
                                                r"handshake without a word: it does not know this endpoint's public key " +
                                                re.escape(rogue.public_key)), 1)
        self.assert_real_peer_unaffected()

    # (c) the real office's message 1, replayed

    def test_replayed_message1_gets_nothing(self):
        # The office dials through the recording proxy so its message 1 can be captured.
        vps, office = self.h.vps_and_office()
        proxy = self.h.proxy(vps.listen_port, source="127.0.0.3", name="office-proxy")
        office.dial_via("vps", proxy.port)
        office.add_expose("echo", self.echo.port, ["vps"], protocol="tcp")
        self.forward_port = vps.add_forward("echo", "office", protocol="tcp")
        self.h.start_pair(vps, office)
        self.vps, self.office = vps, office

        proxy.wait_for(lambda conns: len(conns) >= 1 and len(conns[0].to_server) >= MESSAGE1_LEN,
                       what="the office's message 1")
        message1 = bytes(proxy.connections[0].to_server[:MESSAGE1_LEN])
        self.assertEqual(message1[:6], struct.pack(">HB3x", MESSAGE1_LEN - 2, 1))
        self.assertGreater(len(proxy.connections[0].to_client), 0, "the real office got a message 2")

        self.send_and_expect_silence(message1, source="127.0.0.4")
        # The same again, followed by more bytes, as an attacker would continue.
        self.send_and_expect_silence(message1 + os.urandom(200), source="127.0.0.4")
        self.vps.wait_for_log(r"handshake from 127\.0\.0\.4:\d+ refused", count=2)
        # One warning per source per minute: the second replay is logged only at debug.
        self.assertEqual(self.vps.count_log(r"warning: handshake from 127\.0\.0\.4:\d+ refused: its timestamp is not "
                                            r"newer"), 1)
        self.assert_real_peer_unaffected()
        self.assertEqual(len(proxy.connections), 1, "the office had to reconnect")


    # (e) many idle connections from one source

    def test_unfinished_handshakes_per_source_are_bounded(self):
        # Idle connections cost a descriptor each and a stranger nothing: from one source at most 4
        # may wait in the handshake at once; more are closed at once, without a byte.
        self.start()
        # The vps accepts in arrival order, so these four are counted before the fifth.
        held = [connect(self.vps.listen_port, source="127.0.0.5") for _ in range(4)]
        try:
            extra_started = time.monotonic()
            with connect(self.vps.listen_port, source="127.0.0.5") as extra:
                got, how = read_until_closed(extra, extra_started + 4.5)
            self.assertEqual(got, b"")
            self.assertNotEqual(how, "timeout", "a fifth idle connection from one source was kept")
            self.assertLess(time.monotonic() - extra_started, 2.0, "the fifth was not closed at once")
            # Another source is not affected by the first one's quota.
            with connect(self.vps.listen_port, source="127.0.0.6") as other:
                other.settimeout(1.0)
                with self.assertRaises(socket.timeout):
                    other.recv(1)  # still open, waiting for its message 1
        finally:
            for s in held:
                s.close()
        self.assert_real_peer_unaffected()

    # (f) a stranger sharing the office's address

    def test_a_stranger_cannot_spend_the_handshake_rate_of_the_peers_address(self):
        # Only a message 1 that passes mac1 (whose sender knows the vps's public key) is charged to
        # the rate limit of its source, so a stranger behind the office's NAT, or anyone who can
        # connect from its address, cannot keep the office out by flooding garbage from there.
        self.start()
        self.office.stop()
        stop = threading.Event()
        framed = struct.pack(">HB3x", MESSAGE1_LEN - 2, 1)
        sent = [0]

        def flood():
            deadline = time.monotonic() + 30
            while not stop.is_set() and time.monotonic() < deadline and sent[0] < 50_000:
                with connect(self.vps.listen_port, source="127.0.0.1") as s:
                    s.sendall(framed + os.urandom(MESSAGE1_LEN - 6))  # fails mac1
                    read_until_closed(s, time.monotonic() + PROMPT_CLOSE)
                sent[0] += 1

        flooder = Worker(flood, name="flood")
        try:
            wait_until(lambda: sent[0] >= 100, what="100 garbage message 1s from 127.0.0.1")
            self.office.start()  # dials from 127.0.0.1 too
            self.office.wait_for_log(r"peer vps up \(endpoint ", timeout=10)
            self.assertTrue(flooder.is_alive(), "the flood ended before the office got in")
        finally:
            stop.set()
            flooder.join(PROMPT_CLOSE + 5)
        self.assertGreater(sent[0], 100)
        data = os.urandom(100_000)
        with connect(self.forward_port) as c:
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_eof(c, len(data), time.monotonic() + 10), data)
        self.assertEqual(self.vps.status()["rejected_handshakes"].get("rate_limited", 0), 0,
                         "garbage was charged to the rate limit")


if __name__ == "__main__":
    unittest.main()
