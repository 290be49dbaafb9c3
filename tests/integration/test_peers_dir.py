"""interface.peers_dir: a VPS endpoint serving many offices keeps one file per office in a
directory. A reload (SIGHUP) reads the directory again: an office whose file was added connects and
carries mail; one whose file was removed is disconnected; a bad file is refused by name and the
running configuration stays."""

import os
import unittest

from harness import (FakeLmtpServer, ForwardEntry, PeerEntry, TunnelTestCase, connect, free_port, lmtp_deliver,
                     peer_and_forward_lines)


class PeersDir(TunnelTestCase):
    def setUp(self):
        super().setUp()
        self.vps = self.h.endpoint("vps", listen=True)
        self.vps.peers_dir = self.h.dir / "vps.d"
        self.vps.peers_dir.mkdir(mode=0o750)

    def office(self, name: str) -> tuple[int, FakeLmtpServer, object]:
        """An office that dials the VPS and exposes lmtp to a fake LMTP server; its file in the VPS's
        peers_dir holds its [[peer]] and an lmtp [[forward]]. Returns that forward's port, the
        server and the office."""
        lmtp = self.h.add(FakeLmtpServer())
        office = self.h.endpoint(name)
        office.add_peer(self.vps, dial_port=self.vps.listen_port)
        office.add_expose("lmtp", lmtp.port, ["vps"])
        port = free_port()
        text = "\n".join(peer_and_forward_lines([PeerEntry(name, office.public_key)],
                                                [ForwardEntry("lmtp", port, name)])) + "\n"
        path = self.vps.peers_dir / f"{name}.toml"
        path.write_text(text)
        os.chmod(path, 0o640)
        return port, lmtp, office

    def test_an_office_file_added_then_removed_is_picked_up_on_reload(self):
        first_port, first_lmtp, first = self.office("office-a")
        self.vps.start()
        self.vps.wait_for_log(r"listening for peers on")
        first.start()
        self.vps.wait_for_log(r"peer office-a up \(endpoint ")

        second_port, second_lmtp, second = self.office("office-b")
        self.assertRegex(self.vps.reload(), r"reloaded .*: 2 peers, 2 forwards \(1 added, 0 removed\)")
        self.assertEqual(self.vps.count_log(r"reload: peer office-b added"), 1)
        second.start()
        self.vps.wait_for_log(r"peer office-b up \(endpoint ")
        lmtp_deliver(second_port, b"Subject: to the new office\r\n\r\nhello")
        lmtp_deliver(first_port, b"Subject: to the first office\r\n\r\nhello")
        self.assertEqual(len(second_lmtp.messages), 1)
        self.assertIn(b"to the new office", second_lmtp.messages[0])
        self.assertEqual(len(first_lmtp.messages), 1)
        # The first office was not disturbed by the reload.
        self.assertEqual(self.vps.count_log(r"peer office-a down"), 0)

        (self.vps.peers_dir / "office-a.toml").unlink()
        self.assertRegex(self.vps.reload(), r"reloaded .*: 1 peers, 1 forwards \(0 added, 1 removed\)")
        self.assertEqual(self.vps.count_log(r"reload: peer office-a removed"), 1)
        with self.assertRaises(OSError):
            connect(first_port).close()

    def test_a_bad_office_file_is_refused_by_name_and_the_running_configuration_stays(self):
        port, lmtp, office = self.office("office-a")
        self.vps.start()
        self.vps.wait_for_log(r"listening for peers on")
        office.start()
        self.vps.wait_for_log(r"peer office-a up \(endpoint ")
        bad = self.vps.peers_dir / "office-b.toml"
        bad.write_text("[[peer]]\nname = \"office-b\"\n")
        os.chmod(bad, 0o640)
        self.assertIn("reload refused", self.vps.reload())
        self.assertIn(f"{bad}:1: peer[0].public_key: missing", self.vps.log_text())
        lmtp_deliver(port, b"Subject: still here\r\n\r\nhello")
        self.assertEqual(len(lmtp.messages), 1)


if __name__ == "__main__":
    unittest.main()
