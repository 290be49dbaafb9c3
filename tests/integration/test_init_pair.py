"""`mailtun init` for both roles, as a new user runs it: the VPS first (its configuration waits for
the office's key and is refused until then), the office with the VPS's key, the office's key pasted
into the VPS's file; then the two generated configurations connect and carry an LMTP session from a
client of the VPS's forward to an LMTP server behind the office's expose (DESIGN §2, §8).

Only ports are rewritten, and only where this test needs it: init writes the real mail ports (24,
3659, 2525), which are privileged or may be taken on a test machine, so each forward listens on a
free loopback port instead; the office's LMTP expose points at this test's fake LMTP server, whose
port is ephemeral, so that expose also gets `allow_any_port = true` (the mail-port guard of DESIGN
§6 would refuse it otherwise). The tunnel itself uses init's own --listen and --endpoint flags."""

import re
import subprocess
import time
import unittest

from harness import (Endpoint, FakeLmtpServer, Keys, LOOPBACK, SOCKET_TIMEOUT, TunnelTestCase, connect, free_port,
                     mailtun_binary, recv_line)


def run_init(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([mailtun_binary(), "init", *args], capture_output=True, text=True, timeout=30, check=False)


def printed_public_key(out: str, name: str) -> str:
    match = re.search(rf"^public key of {name}: ([A-Za-z0-9+/]{{43}}=)$", out, flags=re.MULTILINE)
    assert match, f"no public key line for {name} in:\n{out}"
    return match.group(1)


class InitEndpoint(Endpoint):
    """An endpoint that runs the configuration file init wrote, not one the harness composes."""

    def __init__(self, harness, name: str, config_path):
        super().__init__(harness, name, Keys(config_path.with_suffix(".key"), ""), None)
        self.config_path = config_path

    def write_config(self):
        return self.config_path


class InitPair(TunnelTestCase):
    def test_generated_configurations_connect_and_carry_lmtp(self):
        tunnel_port = free_port()
        vps_dir, office_dir = self.h.dir / "vps", self.h.dir / "office"

        vps = run_init("--role", "vps", "--dir", str(vps_dir), "--listen", f"{LOOPBACK}:{tunnel_port}")
        self.assertEqual(vps.returncode, 0, vps.stderr)
        vps_config = vps_dir / "vps.toml"

        # Until the office's key is pasted in, the VPS's file is refused, saying what to paste.
        check = subprocess.run([mailtun_binary(), "check", "--config", str(vps_config)], capture_output=True,
                               text=True, timeout=30, check=False)
        self.assertEqual(check.returncode, 2, check.stdout + check.stderr)
        self.assertIn('peer[0].public_key: "paste the public key of office here"', check.stderr)

        office = run_init("--role", "office", "--dir", str(office_dir), "--endpoint", f"{LOOPBACK}:{tunnel_port}",
                          "--peer-public-key", printed_public_key(vps.stdout, "vps"))
        self.assertEqual(office.returncode, 0, office.stderr)
        office_config = office_dir / "office.toml"

        # The user's step: paste the office's key over the placeholder line.
        text = vps_config.read_text()
        self.assertEqual(text.count("paste the public key of office here"), 1)
        vps_config.write_text(text.replace("paste the public key of office here",
                                           printed_public_key(office.stdout, "office")))

        lmtp = self.h.add(FakeLmtpServer())
        forward_ports = {}

        def free_listen(match):  # each forward on a free loopback port (see the module's comment)
            if int(match.group(1)) == tunnel_port:
                return match.group(0)  # the tunnel's own listener, chosen above with init's --listen
            port = free_port()
            forward_ports[int(match.group(1))] = port
            return f'listen = "{LOOPBACK}:{port}"'

        listen_line = re.compile(r'^listen = "127\.0\.0\.1:(\d+)"$', flags=re.MULTILINE)
        vps_config.write_text(listen_line.sub(free_listen, vps_config.read_text()))
        office_text = listen_line.sub(free_listen, office_config.read_text())
        office_text, n = re.subn(r'^target = "127\.0\.0\.1:24"$',
                                 f'target = "{LOOPBACK}:{lmtp.port}"\nallow_any_port = true', office_text,
                                 flags=re.MULTILINE)
        self.assertEqual(n, 1, office_text)
        office_config.write_text(office_text)
        self.assertEqual(sorted(forward_ports), [24, 2525, 3659])
        # Tests run side by side: the control sockets go to this test's directory, not /run/mailtun.
        for config, name in ((vps_config, "vps"), (office_config, "office")):
            config.write_text(config.read_text().replace(
                "[interface]\n", f'[interface]\ncontrol_socket = "{self.h.dir / (name + ".sock")}"\n', 1))

        vps_endpoint = InitEndpoint(self.h, "vps", vps_config)
        office_endpoint = InitEndpoint(self.h, "office", office_config)
        self.h.endpoints += [vps_endpoint, office_endpoint]  # stopped, and their logs kept, by the harness
        self.h.start_pair(vps_endpoint, office_endpoint)

        message = b"From: a@example.net\r\nTo: alice@example.test\r\nSubject: init\r\n\r\nthrough init's tunnel\r\n"
        deadline = time.monotonic() + SOCKET_TIMEOUT
        with connect(forward_ports[24]) as c:
            def say(command: bytes, replies: int = 1) -> list[bytes]:
                if command:
                    c.sendall(command)
                return [recv_line(c, deadline) for _ in range(replies)]

            self.assertTrue(say(b"")[0].startswith(b"220 fake.example.test"))
            lhlo = say(b"LHLO vps.example.test\r\n", 2)
            self.assertEqual(lhlo[-1], b"250 PIPELINING\r\n")
            self.assertTrue(say(b"MAIL FROM:<a@example.net>\r\n")[0].startswith(b"250 "))
            self.assertTrue(say(b"RCPT TO:<alice@example.test>\r\n")[0].startswith(b"250 "))
            self.assertTrue(say(b"DATA\r\n")[0].startswith(b"354 "))
            self.assertEqual(say(message + b".\r\n"), [b"250 2.0.0 saved\r\n"])
            self.assertTrue(say(b"QUIT\r\n")[0].startswith(b"221 "))
        self.assertEqual(lmtp.messages, [message])
        self.assertEqual(lmtp.errors, [])


if __name__ == "__main__":
    unittest.main()
