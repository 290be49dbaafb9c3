"""One VPS endpoint, many offices: a real `mailtun up` with a peers_dir of 50 office files, and 50
offices in one process (bench/offices.cpp, mailtun-offices), each dialing from a loopback address of
its own. All 50 come up; mail goes through several of the 50 forwards; after the VPS endpoint
restarts, all 50 come back: the reconnect storm is not locked out by the handshake limiter.
The 1000-office version of this is a benchmark (bench/offices.py), not a test."""

import json
import os
import queue
import subprocess
import threading
import time
import unittest
from pathlib import Path

from harness import FakeLmtpServer, Endpoint, Keys, TunnelTestCase, free_port, free_port_range, lmtp_deliver

OFFICES = 50
UP_TIMEOUT = 30.0  # seconds for all 50 to come up; it takes about one


def offices_binary() -> str:
    path = os.environ.get("MAILTUN_OFFICES")
    if not path or not Path(path).exists():
        raise unittest.SkipTest("SKIPPED: MAILTUN_OFFICES does not name the mailtun-offices program")
    return path


class Offices:
    """The mailtun-offices process: its JSON lines, read by a thread into a queue."""

    def __init__(self, args: list[str], log: Path):
        # The offices' log goes to a file: a pipe nobody reads could fill and stall them.
        self.log = log
        with open(log, "wb") as stderr:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                                         close_fds=True)
        self.events: queue.Queue = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put({"event": "exited"})

    def wait_for(self, event: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {event} within {timeout} s")
            try:
                got = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if got["event"] == "exited":
                raise AssertionError(f"mailtun-offices exited ({self.proc.wait()}): {self.log.read_text(errors='replace')}")
            if got["event"] == event:
                return got

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # this Popen's own PID
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.reader.join(timeout=10)
        self.proc.stdout.close()


class GeneratedEndpoint(Endpoint):
    """The VPS endpoint with the configuration mailtun-offices generated, as written."""

    def write_config(self) -> Path:
        return self.harness.dir / "vps.toml"


class ManyOffices(TunnelTestCase):
    def test_fifty_offices_come_up_carry_mail_and_come_back_after_a_restart(self):
        binary = offices_binary()
        vps_port = free_port()
        base = free_port_range(OFFICES)
        subprocess.run([binary, "generate", "--dir", str(self.h.dir), "--count", str(OFFICES), "--vps-port",
                        str(vps_port), "--forward-port-base", str(base)], check=True, stdout=subprocess.DEVNULL)
        self.assertEqual(len(list((self.h.dir / "vps.d").glob("*.toml"))), OFFICES)
        lmtp = self.h.add(FakeLmtpServer())
        vps = GeneratedEndpoint(self.h, "vps", Keys(self.h.dir / "vps.key", (self.h.dir / "vps.pub").read_text().strip()),
                                vps_port)
        self.h.endpoints.append(vps)
        vps.start()
        vps.wait_for_log(r"interface vps up \(50 peers, 50 forwards, 0 exposes\)")

        offices = Offices([binary, "run", "--dir", str(self.h.dir), "--vps", f"127.0.0.1:{vps_port}",
                           "--sink", f"127.0.0.1:{lmtp.port}"], self.h.dir / "offices.log")
        self.addCleanup(offices.stop)
        up = offices.wait_for("all_up", UP_TIMEOUT)
        self.assertEqual(up["offices"], OFFICES)
        peers = vps.status()["peers"]
        self.assertEqual(len(peers), OFFICES)
        self.assertEqual(sorted({p["state"] for p in peers}), ["up"])

        # Through the first, a middle and the last office's forward, each to its own office.
        for i in (0, OFFICES // 2, OFFICES - 1):
            lmtp_deliver(base + i, f"Subject: to office {i + 1}\r\n\r\nhello".encode())
        self.assertEqual(len(lmtp.messages), 3)
        self.assertIn(b"to office 50", lmtp.messages[2])
        # Each office came from its own address: the VPS saw 50 sources, not one.
        sources = {p["endpoint"].rsplit(":", 1)[0] for p in peers}
        self.assertEqual(len(sources), OFFICES, sources)

        # The reconnect storm: every office redials at once.
        vps.stop()
        offices.wait_for("down", UP_TIMEOUT)
        vps.start()
        again = offices.wait_for("all_up", UP_TIMEOUT)
        self.assertEqual(again["offices"], OFFICES)
        status = vps.status()
        self.assertEqual(sorted({p["state"] for p in status["peers"]}), ["up"])
        # Not one office was turned away on the way: neither by the flood limiter nor by the caps on
        # unfinished handshakes.
        self.assertEqual(status["rejected_handshakes"], {})
        lmtp_deliver(base + OFFICES - 1, b"Subject: after the restart\r\n\r\nhello")
        self.assertEqual(len(lmtp.messages), 4)


if __name__ == "__main__":
    unittest.main()
