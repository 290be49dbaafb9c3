"""The systemd unit's own ExecStart line under a fake NOTIFY_SOCKET (issue: installed and run as a
service): READY=1 only once every listener accepts, a STATUS= line that changes when the peer comes
up, and WATCHDOG=1 pings at least every WatchdogSec/2 from the event loop."""

import os
import re
import shlex
import socket
import subprocess
import threading
import time
import unittest
from pathlib import Path

from harness import EVENT_TIMEOUT, TunnelTestCase, connect, mailtun_binary, wait_until

UNIT = Path(__file__).resolve().parents[2] / "packaging" / "mailtun@.service"
# The unit's WatchdogSec is 30 s; the test gives the same line a shorter one so that it sees many
# pings in a second or two. The rule checked is the unit's: a ping at least every WatchdogSec/2.
WATCHDOG_SEC = 0.6


def unit_setting(name: str) -> str:
    values = re.findall(rf"^{name}=(.*)$", UNIT.read_text(), flags=re.MULTILINE)
    if len(values) != 1:
        raise AssertionError(f"{UNIT}: expected one {name}= line, found {len(values)}")
    return values[0].strip()


class NotifySocket:
    """A datagram socket like systemd's: collects (time, message) pairs."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._receive, name="notify", daemon=True)
        self.thread.start()

    def _receive(self):
        while not self.stopped.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append((time.monotonic(), data.decode()))

    def fields(self, name: str) -> list[tuple[float, str]]:
        """Every NAME=value sent, in order, with the time it arrived."""
        with self.lock:
            messages = list(self.messages)
        out = []
        for at, message in messages:
            for line in message.split("\n"):
                if line.startswith(name + "="):
                    out.append((at, line[len(name) + 1:]))
        return out

    def close(self):
        self.stopped.set()
        self.thread.join(5)
        self.sock.close()


class SystemdNotify(TunnelTestCase):
    def setUp(self):
        super().setUp()
        if not UNIT.exists():
            self.fail(f"{UNIT} is missing")
        self.vps, self.office = self.h.vps_and_office()
        self.echo = self.h.echo_server()
        self.office.add_expose("echo", self.echo.port, ["vps"], protocol="tcp")
        self.forward_port = self.vps.add_forward("echo", "office", protocol="tcp")
        self.notify = NotifySocket(self.h.dir / "notify.sock")
        self.addCleanup(self.notify.close)

    def start_as_the_unit_does(self) -> subprocess.Popen:
        # ExecStart=/usr/bin/mailtun up --config /etc/mailtun/%i.toml, with the instance "vps".
        argv = shlex.split(unit_setting("ExecStart"))
        self.assertEqual(argv[0], "/usr/bin/mailtun")
        config = self.vps.write_config()
        argv = [mailtun_binary()] + [a.replace("/etc/mailtun/%i.toml", str(config)) for a in argv[1:]]
        self.assertIn(str(config), argv)
        env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "WATCHDOG_PID")}
        env["NOTIFY_SOCKET"] = str(self.notify.path)
        env["WATCHDOG_USEC"] = str(int(WATCHDOG_SEC * 1_000_000))
        log = open(self.h.dir / "vps.unit.log", "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)

        def stop():
            if proc.poll() is None:
                proc.terminate()  # this process's own PID
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        self.addCleanup(stop)
        return proc

    def test_ready_status_and_watchdog(self):
        self.assertEqual(unit_setting("Type"), "notify")
        self.assertRegex(unit_setting("WatchdogSec"), r"^\d+s?$")
        proc = self.start_as_the_unit_does()

        wait_until(lambda: self.notify.fields("READY"), what="READY=1")
        # The moment READY arrives, every listener accepts: the tunnel port and the forward.
        connect(self.vps.listen_port).close()
        connect(self.forward_port).close()
        self.assertIsNone(proc.poll())

        statuses = lambda: [v for _, v in self.notify.fields("STATUS")]
        self.assertIn("peer office waiting", statuses()[-1])

        self.office.start()
        wait_until(lambda: statuses() and "peer office up" in statuses()[-1], what="STATUS=… peer office up")

        # Pings keep coming, from the event loop, at least every WatchdogSec/2.
        started = time.monotonic()
        wait_until(lambda: len([t for t, _ in self.notify.fields("WATCHDOG") if t > started]) >= 6,
                   timeout=EVENT_TIMEOUT, what="six WATCHDOG=1 pings")
        pings = [t for t, _ in self.notify.fields("WATCHDOG")]
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        self.assertLessEqual(max(gaps), WATCHDOG_SEC / 2, f"gaps between pings: {gaps}")

        proc.terminate()
        self.assertEqual(proc.wait(10), 0)
        wait_until(lambda: self.notify.fields("STOPPING"), what="STOPPING=1")


if __name__ == "__main__":
    unittest.main()
