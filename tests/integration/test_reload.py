"""SIGHUP reloads the configuration (`systemctl reload mailtun@NAME`): forwards, exposes and peers
that are added or removed take effect; streams the change does not touch keep flowing; a peer whose
key changed handshakes again, and only that peer; a file with errors is refused, its errors logged,
and the running configuration stays."""

import time
import unittest

from harness import FakeLmtpServer, SOCKET_TIMEOUT, TunnelTestCase, connect, recv_exactly, recv_line


def command(conn, line: bytes, deadline: float) -> bytes:
    conn.sendall(line + b"\r\n")
    return recv_line(conn, deadline)


class Reload(TunnelTestCase):
    def setUp(self):
        super().setUp()
        self.lmtp = self.h.add(FakeLmtpServer())
        self.echo = self.h.echo_server()
        self.vps, self.office = self.h.vps_and_office()
        self.office.add_expose("lmtp", self.lmtp.port, ["vps"])
        self.lmtp_port = self.vps.add_forward("lmtp", "office")

    def assert_echo(self, port: int, payload: bytes = b"through the new forward\n"):
        with connect(port) as c:
            c.sendall(payload)
            self.assertEqual(recv_exactly(c, len(payload), time.monotonic() + SOCKET_TIMEOUT), payload)

    def test_an_lmtp_session_stays_open_across_a_reload_that_adds_a_forward(self):
        self.h.start_pair(self.vps, self.office)
        deadline = time.monotonic() + 20
        with connect(self.lmtp_port) as lmtp:
            self.assertTrue(recv_line(lmtp, deadline).startswith(b"220 "))
            lmtp.sendall(b"LHLO vps.example.test\r\n")
            self.assertTrue(recv_line(lmtp, deadline).startswith(b"250-"))
            self.assertTrue(recv_line(lmtp, deadline).startswith(b"250 "))
            self.assertTrue(command(lmtp, b"MAIL FROM:<a@example.test>", deadline).startswith(b"250 "))

            # Mid-transaction, both sides learn a new service.
            self.office.add_expose("echo", self.echo.port, ["vps"], protocol="tcp")
            self.assertIn("reloaded", self.office.reload())
            echo_port = self.vps.add_forward("echo", "office", protocol="tcp")
            self.assertRegex(self.vps.reload(), r"reloaded .*\(1 added, 0 removed\)")
            self.assert_echo(echo_port)

            # The LMTP session that was open all along finishes its delivery.
            self.assertTrue(command(lmtp, b"RCPT TO:<b@example.test>", deadline).startswith(b"250 "))
            self.assertTrue(command(lmtp, b"DATA", deadline).startswith(b"354 "))
            lmtp.sendall(b"Subject: across a reload\r\n\r\nhello\r\n.\r\n")
            self.assertTrue(recv_line(lmtp, deadline).startswith(b"250 "))
        self.assertEqual(len(self.lmtp.messages), 1)
        self.assertIn(b"across a reload", self.lmtp.messages[0])
        # No connection was dropped to get there.
        self.assertEqual(self.vps.count_log(r"peer office up"), 1)
        self.assertEqual(self.vps.count_log(r"peer office down"), 0)

    def test_a_removed_forward_stops_listening(self):
        self.h.start_pair(self.vps, self.office)
        self.vps.forwards.clear()
        self.assertRegex(self.vps.reload(), r"reloaded .*0 forwards \(0 added, 1 removed\)")
        with self.assertRaises(ConnectionRefusedError):
            connect(self.lmtp_port).close()

    def test_a_peer_with_a_new_key_handshakes_again_and_no_other_peer_notices(self):
        # A second office, "branch", next to "office"; then branch gets a new key pair.
        branch = self.h.endpoint("branch")
        self.vps.add_peer(branch)
        branch.add_peer(self.vps, dial_port=self.vps.listen_port)
        branch.add_expose("echo", self.echo.port, ["vps"], protocol="tcp")
        branch_echo = self.vps.add_forward("echo", "branch", protocol="tcp")
        self.h.start_pair(self.vps, self.office)
        branch.start()
        self.vps.wait_for_log(r"peer branch up \(endpoint ")

        with connect(self.lmtp_port) as lmtp:  # a stream to office, open across the change
            deadline = time.monotonic() + 20
            self.assertTrue(recv_line(lmtp, deadline).startswith(b"220 "))
            branch.stop()
            branch.keys = self.h.genkey("branch-new")
            branch.start()
            for p in self.vps.peers:
                if p.name == "branch":
                    p.public_key = branch.public_key
            self.assertIn("reloaded", self.vps.reload())
            self.vps.wait_for_log(r"reload: peer branch has new keys")
            self.vps.wait_for_log(r"peer branch up \(endpoint ", count=2)
            self.assert_echo(branch_echo)
            lmtp.sendall(b"LHLO vps.example.test\r\n")
            self.assertTrue(recv_line(lmtp, deadline).startswith(b"250-"), "the office's stream did not survive")
        self.assertEqual(self.vps.count_log(r"peer office up"), 1)
        self.assertEqual(self.vps.count_log(r"peer office down"), 0)

    def test_an_lmtp_transaction_open_across_a_change_of_keys_finishes(self):
        """docs/design.md "Session refresh": a peer with new keys is a new peer, but the connection
        with the old keys drains rather than closes, so a delivery under way is not cut."""
        self.h.start_pair(self.vps, self.office)
        new_psk = self.h.genpsk("office-vps-new")
        deadline = time.monotonic() + 20
        with connect(self.lmtp_port) as lmtp:
            self.assertTrue(recv_line(lmtp, deadline).startswith(b"220 "))
            self.vps.peers[0].preshared_key_file = new_psk
            self.assertIn("reloaded", self.vps.reload())
            self.vps.wait_for_log(r"reload: peer office has new keys")
            lmtp.sendall(b"LHLO vps.example.test\r\n")
            self.assertTrue(recv_line(lmtp, deadline).startswith(b"250-"))
            self.assertTrue(recv_line(lmtp, deadline).startswith(b"250 "))
            self.assertTrue(command(lmtp, b"MAIL FROM:<a@example.test>", deadline).startswith(b"250 "))
            self.assertTrue(command(lmtp, b"RCPT TO:<b@example.test>", deadline).startswith(b"250 "))
            self.assertTrue(command(lmtp, b"DATA", deadline).startswith(b"354 "))
            lmtp.sendall(b"Subject: across new keys\r\n\r\nhello\r\n.\r\n")
            self.assertTrue(recv_line(lmtp, deadline).startswith(b"250 "))
        self.assertEqual(len(self.lmtp.messages), 1)
        self.vps.wait_for_log(r"the previous connection from .* closed: shut down after draining")
        # With the new key on both sides, the office is back.
        self.office.peers[0].preshared_key_file = new_psk
        self.assertIn("reloaded", self.office.reload())
        self.vps.wait_for_log(r"peer office up \(endpoint ", count=2)

    def test_a_file_with_errors_is_refused_and_the_running_configuration_stays(self):
        self.h.start_pair(self.vps, self.office)
        broken = self.vps.config_text().replace('peer = "office"', 'peer = "ofice"')
        line = self.vps.reload(broken)
        self.assertIn("reload refused, the running configuration stays", line)
        self.vps.wait_for_log(r'forward\[0\]\.peer: "ofice" is not the name of any \[\[peer\]\]; did you mean "office"\?')
        self.assertTrue(self.vps.running())
        with connect(self.lmtp_port) as lmtp:
            self.assertTrue(recv_line(lmtp, time.monotonic() + 10).startswith(b"220 "), "the old forward stopped")
        self.assertEqual(self.vps.stop(), 0)


if __name__ == "__main__":
    unittest.main()
