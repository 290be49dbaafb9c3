"""The rig every contestant is mounted on: a work directory, the processes started so far, the sink
at the far end, and the delay relay between the two tunnel endpoints."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from . import procs

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
HELPER_TIMEOUT = 15.0


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago (bind to 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout: float, what: str, host: str = LOOPBACK) -> None:
    """Until something accepts connections on host:port; for a client that gives up at once
    when refused (ssh), started right after its server."""
    def accepts() -> bool:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            return False
    procs.wait_for(accepts, timeout, what)


def in_netns(netns: Optional[str], argv: list[str]) -> list[str]:
    """`ip netns exec` execs the command, so the PID started is the command's own."""
    return ["ip", "netns", "exec", netns, *argv] if netns else argv


@dataclass
class Rig:
    workdir: Path
    started: procs.Started
    mailtun: Optional[str] = None
    python: str = sys.executable
    helpers: list[subprocess.Popen] = field(default_factory=list)
    lmtp_sink: bool = False  # the sink speaks LMTP (the LMTP measure) instead of counting bytes

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def start_helper(self, name: str, argv: list[str], netns: Optional[str] = None) -> tuple[subprocess.Popen, int]:
        """A helper that prints its port first (sink, relay); returns it and that port."""
        with open(self.log(name), "ab") as errors:
            proc = self.started.popen(in_netns(netns, [self.python, *argv]), stdout=subprocess.PIPE, stderr=errors)
        try:
            port = int(procs.first_line(proc, HELPER_TIMEOUT, name))
        except BaseException:
            self.started.stop(proc)
            raise
        self.helpers.append(proc)
        return proc, port

    def start_sink(self, host: str = LOOPBACK, netns: Optional[str] = None) -> int:
        argv = [str(HERE / "sink.py"), "--host", host] + (["--lmtp"] if self.lmtp_sink else [])
        return self.start_helper("sink", argv, netns)[1]

    def start_relay(self, rtt_ms: float, target_host: str, target_port: int, udp: bool = False,
                    netns: Optional[str] = None) -> int:
        argv = [str(HERE / "delay_relay.py"), "--rtt-ms", str(rtt_ms), "--target", f"{target_host}:{target_port}"]
        return self.start_helper("relay", argv + (["--udp"] if udp else []), netns)[1]

    def via(self, rtt_ms: float, port: int, host: str = LOOPBACK) -> int:
        """The port the near endpoint dials to reach `port`: the relay's when there is a delay."""
        return self.start_relay(rtt_ms, host, port) if rtt_ms > 0 else port

    def stop_helpers(self) -> None:
        for proc in self.helpers[::-1]:
            self.started.stop(proc)
        self.helpers.clear()

    def load_argv(self, measure: str, host: str, port: int, netns: Optional[str], *args: str) -> list[str]:
        return in_netns(netns, [self.python, str(HERE / "load.py"), measure, "--host", host, "--port", str(port),
                                *args])
