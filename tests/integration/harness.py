"""Integration-test harness: real `mailtun up` processes on loopback (DESIGN §10).

What it gives a test:

* ``Harness``: a temporary directory, keys made by the real binary (mode 600), endpoint
  configurations (DESIGN §7) written as TOML, and cleanup of everything it started.
* ``Endpoint``: one ``mailtun up`` process; start / stop (SIGTERM, then SIGKILL after a bound) /
  kill, and waiting for lines in its log by polling the log file against a deadline.
* Target servers, threaded, in-process, on 127.0.0.1: ``EchoServer``, ``BulkServer`` (sends a
  payload while reading and hashing whatever arrives), ``ReplyAfterEofServer``.
* ``RecordingProxy``: a TCP relay that keeps every byte it passes, per connection and direction.
* ``TunnelTestCase``: a unittest base that owns a ``Harness`` and prints the endpoints' logs when a
  test fails.

Rules kept throughout: traffic goes to 127.0.0.1 only; every loop is bounded in count and in time;
only processes started here are signalled, by their own PID; nothing waits by sleeping where an
event can be awaited.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

LOOPBACK = "127.0.0.1"

# How long a test waits for something that normally takes milliseconds.
EVENT_TIMEOUT = 10.0
# How long any single socket operation may block.
SOCKET_TIMEOUT = 30.0
# How often log files and conditions are polled.
POLL_INTERVAL = 0.02
# SIGTERM -> exit bound before SIGKILL (the daemon drains for up to --drain-seconds, default 10).
STOP_TIMEOUT = 15.0


# ---- the binary -----------------------------------------------------------------------------

def mailtun_binary() -> str:
    """The mailtun executable: $MAILTUN (CTest sets it), else the usual build directories."""
    explicit = os.environ.get("MAILTUN")
    if explicit:
        return explicit
    root = Path(__file__).resolve().parents[2]
    for build in ("build", "build-it"):
        candidate = root / build / "cli" / "mailtun"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RuntimeError("set MAILTUN to the mailtun binary (no build/cli/mailtun found)")


def run_mailtun(*args: str, stdin: bytes | None = None) -> bytes:
    """Runs a short mailtun subcommand (genkey, pubkey, genpsk) and returns its stdout."""
    result = subprocess.run([mailtun_binary(), *args], input=stdin, capture_output=True, timeout=30, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"mailtun {' '.join(args)} exited {result.returncode}: {result.stderr.decode(errors='replace')}")
    return result.stdout


# ---- leftover children ----------------------------------------------------------------------

# PID -> Popen of every endpoint started and not yet reaped; killed at interpreter exit.
_live_children: dict[int, subprocess.Popen] = {}
_live_lock = threading.Lock()


def _kill_leftover_children() -> None:
    with _live_lock:
        leftovers = list(_live_children.values())
        _live_children.clear()
    for proc in leftovers:
        if proc.poll() is None:
            try:
                proc.kill()  # this Popen's own PID only
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


atexit.register(_kill_leftover_children)


# ---- small utilities ------------------------------------------------------------------------

def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def free_port_range(count: int) -> int:
    """The first of `count` consecutive TCP ports on 127.0.0.1 that were free a moment ago, below the
    ephemeral range so that the kernel does not hand them out meanwhile (the office simulator's
    forwards)."""
    for _ in range(50):
        base = random.randrange(10000, 32000 - count)  # below the ephemeral ports (32768 up)
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind((LOOPBACK, port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise AssertionError(f"no {count} consecutive free ports found")


def wait_until(condition: Callable[[], bool], timeout: float = EVENT_TIMEOUT, what: str = "condition") -> None:
    """Polls `condition` until it holds; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / POLL_INTERVAL) + 2):
        if condition():
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL)
    if condition():
        return
    raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")


def connect(port: int, timeout: float = SOCKET_TIMEOUT, source: str | None = None) -> socket.socket:
    """A TCP connection to 127.0.0.1:port, optionally from a given loopback source address."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        if source is not None:
            s.bind((source, 0))
        s.connect((LOOPBACK, port))
    except BaseException:
        s.close()
        raise
    return s


def recv_until_eof(sock: socket.socket, limit: int, deadline: float) -> bytes:
    """Everything until EOF. Raises on more than `limit` bytes or past `deadline` (monotonic).
    Socket errors (e.g. ConnectionResetError) propagate."""
    chunks = bytearray()
    for _ in range(limit + 2):  # each pass takes at least one byte or ends
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no EOF within the deadline ({len(chunks)} bytes so far)")
        sock.settimeout(min(remaining, SOCKET_TIMEOUT))
        data = sock.recv(min(1 << 20, limit - len(chunks) + 1))
        if not data:
            return bytes(chunks)
        chunks += data
        if len(chunks) > limit:
            raise AssertionError(f"more than {limit} bytes before EOF")
    raise AssertionError("recv loop bound reached")


def read_until_closed(sock: socket.socket, deadline: float, limit: int = 1 << 28) -> tuple[bytes, str]:
    """Reads until the peer ends the connection. Returns (bytes received, how): "eof" (clean FIN),
    "reset" (ECONNRESET) or "timeout" (still open at `deadline`). Bytes that arrived before a reset
    are kept, unlike recv_until_eof."""
    data = bytearray()
    for _ in range(limit + 2):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bytes(data), "timeout"
        sock.settimeout(min(remaining, SOCKET_TIMEOUT))
        try:
            chunk = sock.recv(1 << 20)
        except ConnectionResetError:
            return bytes(data), "reset"
        except socket.timeout:
            return bytes(data), "timeout"
        if not chunk:
            return bytes(data), "eof"
        data += chunk
        if len(data) > limit:
            raise AssertionError(f"more than {limit} bytes before the connection ended")
    raise AssertionError("recv loop bound reached")


def recv_hash_until_eof(sock: socket.socket, limit: int, deadline: float) -> tuple[int, str]:
    """Like recv_until_eof but keeps only the count and SHA-256 (for large transfers)."""
    h = hashlib.sha256()
    n = 0
    for _ in range(limit + 2):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no EOF within the deadline ({n} bytes so far)")
        sock.settimeout(min(remaining, SOCKET_TIMEOUT))
        data = sock.recv(1 << 20)
        if not data:
            return n, h.hexdigest()
        h.update(data)
        n += len(data)
        if n > limit:
            raise AssertionError(f"more than {limit} bytes before EOF")
    raise AssertionError("recv loop bound reached")


def recv_exactly(sock: socket.socket, n: int, deadline: float) -> bytes:
    """Exactly n bytes; raises on EOF first or past `deadline`."""
    chunks = bytearray()
    for _ in range(n + 1):
        if len(chunks) >= n:
            return bytes(chunks)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"got {len(chunks)} of {n} bytes before the deadline")
        sock.settimeout(min(remaining, SOCKET_TIMEOUT))
        data = sock.recv(min(1 << 20, n - len(chunks)))
        if not data:
            raise AssertionError(f"EOF after {len(chunks)} of {n} bytes")
        chunks += data
    return bytes(chunks)


def recv_line(sock: socket.socket, deadline: float, limit: int = 4096) -> bytes:
    """One line including its b"\\n" (or what came before EOF)."""
    line = bytearray()
    for _ in range(limit + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no complete line before the deadline: {bytes(line)!r}")
        sock.settimeout(remaining)
        b = sock.recv(1)
        if not b:
            return bytes(line)
        line += b
        if b == b"\n":
            return bytes(line)
    raise AssertionError(f"line longer than {limit} bytes")


def lmtp_deliver(port: int, body: bytes) -> None:
    """One LMTP transaction (LHLO, MAIL, RCPT, DATA) to `port`; fails unless the message is accepted."""
    deadline = time.monotonic() + SOCKET_TIMEOUT
    with connect(port) as c:
        greeting = recv_line(c, deadline)
        assert greeting.startswith(b"220 "), greeting
        for line, reply in ((b"LHLO vps.example.test", b"250 "), (b"MAIL FROM:<a@example.test>", b"250 "),
                            (b"RCPT TO:<b@example.test>", b"250 "), (b"DATA", b"354 ")):
            c.sendall(line + b"\r\n")
            got = recv_line(c, deadline)
            while got.startswith(b"250-"):
                got = recv_line(c, deadline)
            assert got.startswith(reply), (line, got)
        c.sendall(body + b"\r\n.\r\n")
        got = recv_line(c, deadline)
        assert got.startswith(b"250 "), got


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def send_all_chunked(sock: socket.socket, data: bytes, chunk: int = 1 << 20) -> None:
    """sendall in pieces, so a large buffer is not one syscall that pins it all in the kernel."""
    view = memoryview(data)
    for start in range(0, len(data), chunk):
        sock.sendall(view[start:start + chunk])


class Worker:
    """A thread that runs `fn` and keeps its result or exception for `join()`."""

    def __init__(self, fn: Callable[[], object], name: str = "worker"):
        self.result: object = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), name=name, daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], object]) -> None:
        try:
            self.result = fn()
        except BaseException as e:  # noqa: BLE001 - handed to join()
            self.error = e

    def join(self, timeout: float) -> object:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"{self._thread.name} still running after {timeout:.1f} s")
        if self.error is not None:
            raise self.error
        return self.result

    def is_alive(self) -> bool:
        return self._thread.is_alive()


# ---- keys and configuration -----------------------------------------------------------------

@dataclass
class Keys:
    private_key_file: Path
    public_key: str


def toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class PeerEntry:
    name: str
    public_key: str
    preshared_key_file: Optional[Path] = None
    endpoint_port: Optional[int] = None  # set on the dialing side: 127.0.0.1:PORT
    keepalive: Optional[int] = None
    max_session_age: Optional[int] = None


@dataclass
class ForwardEntry:
    service: str
    port: int
    peer: str | list[str]  # a list is written as `peers = [...]` (failover, in order)
    protocol: Optional[str] = None


@dataclass
class ExposeEntry:
    service: str
    target_port: int
    peers: list[str]
    protocol: Optional[str] = None
    proxy_protocol: Optional[str] = None
    allow_any_port: bool = True  # test servers listen on ephemeral ports, not mail ports
    proxy_sources: Optional[list[str]] = None


def peer_and_forward_lines(peers: list[PeerEntry], forwards: list[ForwardEntry]) -> list[str]:
    """The [[peer]] and [[forward]] tables, as in a main file or a file of its peers_dir."""
    lines = []
    for p in peers:
        lines += ["", "[[peer]]", f"name = {toml_string(p.name)}", f"public_key = {toml_string(p.public_key)}"]
        if p.preshared_key_file is not None:
            lines.append(f"preshared_key_file = {toml_string(str(p.preshared_key_file))}")
        if p.endpoint_port is not None:
            lines.append(f"endpoint = {toml_string(f'{LOOPBACK}:{p.endpoint_port}')}")
        if p.keepalive is not None:
            lines.append(f"keepalive = {p.keepalive}")
        if p.max_session_age is not None:
            lines.append(f"max_session_age = {p.max_session_age}")
    for f in forwards:
        lines += ["", "[[forward]]", f"service = {toml_string(f.service)}",
                  f"listen = {toml_string(f'{LOOPBACK}:{f.port}')}"]
        if isinstance(f.peer, list):
            lines.append("peers = [" + ", ".join(toml_string(p) for p in f.peer) + "]")
        else:
            lines.append(f"peer = {toml_string(f.peer)}")
        if f.protocol is not None:
            lines.append(f"protocol = {toml_string(f.protocol)}")
    return lines


# ---- an endpoint process --------------------------------------------------------------------

class Endpoint:
    """One mailtun endpoint: its keys, its configuration, and at most one running process."""

    def __init__(self, harness: "Harness", name: str, keys: Keys, listen_port: Optional[int]):
        self.harness = harness
        self.name = name
        self.keys = keys
        self.listen_port = listen_port
        self.peers: list[PeerEntry] = []
        self.forwards: list[ForwardEntry] = []
        self.exposes: list[ExposeEntry] = []
        self.proc: Optional[subprocess.Popen] = None
        self.starts = 0
        self.log_path: Optional[Path] = None
        self.log_paths: list[Path] = []
        self.exit_codes: list[int] = []
        self.metrics_port: Optional[int] = None
        self.peers_dir: Optional[Path] = None  # interface.peers_dir, if set

    # configuration

    @property
    def public_key(self) -> str:
        return self.keys.public_key

    def add_peer(self, other: "Endpoint", dial_port: Optional[int] = None, psk_file: Optional[Path] = None,
                 keepalive: Optional[int] = None, name: Optional[str] = None) -> None:
        """Knows `other` by its public key; dials 127.0.0.1:dial_port if given."""
        self.peers.append(PeerEntry(name or other.name, other.public_key, psk_file, dial_port, keepalive))

    def dial_via(self, peer: str, port: int) -> None:
        """Dials `peer` at 127.0.0.1:port instead (e.g. a RecordingProxy in front of it)."""
        for p in self.peers:
            if p.name == peer:
                p.endpoint_port = port
                return
        raise KeyError(peer)

    def add_forward(self, service: str, peer: str | list[str], protocol: Optional[str] = None,
                    port: Optional[int] = None) -> int:
        """A local listener for `service` at `peer`; returns its port."""
        port = port if port is not None else free_port()
        self.forwards.append(ForwardEntry(service, port, peer, protocol))
        return port

    def add_expose(self, service: str, target_port: int, peers: list[str], protocol: Optional[str] = None,
                   proxy_protocol: Optional[str] = None, proxy_sources: Optional[list[str]] = None) -> None:
        self.exposes.append(ExposeEntry(service, target_port, peers, protocol, proxy_protocol,
                                        proxy_sources=proxy_sources))

    def forward_port(self, service: str) -> int:
        for f in self.forwards:
            if f.service == service:
                return f.port
        raise KeyError(service)

    def config_text(self) -> str:
        lines = ["[interface]", f"name = {toml_string(self.name)}",
                 f"private_key_file = {toml_string(str(self.keys.private_key_file))}"]
        if self.listen_port is not None:
            lines.append(f"listen = {toml_string(f'{LOOPBACK}:{self.listen_port}')}")
        # Tests run side by side: each endpoint's control socket in its own test directory.
        lines.append(f"control_socket = {toml_string(str(self.control_socket))}")
        if self.metrics_port is not None:
            lines.append(f"metrics_listen = {toml_string(f'{LOOPBACK}:{self.metrics_port}')}")
        if self.peers_dir is not None:
            lines.append(f"peers_dir = {toml_string(str(self.peers_dir))}")
        lines += peer_and_forward_lines(self.peers, self.forwards)
        for e in self.exposes:
            lines += ["", "[[expose]]", f"service = {toml_string(e.service)}",
                      f"target = {toml_string(f'{LOOPBACK}:{e.target_port}')}",
                      "peers = [" + ", ".join(toml_string(p) for p in e.peers) + "]"]
            if e.protocol is not None:
                lines.append(f"protocol = {toml_string(e.protocol)}")
            if e.proxy_protocol is not None:
                lines.append(f"proxy_protocol = {toml_string(e.proxy_protocol)}")
            if e.allow_any_port:
                lines.append("allow_any_port = true")
            if e.proxy_sources is not None:
                lines.append("proxy_sources = [" + ", ".join(toml_string(p) for p in e.proxy_sources) + "]")
        return "\n".join(lines) + "\n"

    @property
    def control_socket(self) -> Path:
        return self.harness.dir / f"{self.name}.sock"

    def write_config(self) -> Path:
        path = self.harness.dir / f"{self.name}.toml"
        path.write_text(self.config_text())
        return path

    def status(self) -> dict:
        """`mailtun status --json` of this endpoint, parsed."""
        return json.loads(run_mailtun("status", "--socket", str(self.control_socket), "--json"))

    def reload(self, text: Optional[str] = None) -> str:
        """Writes the configuration (or `text` as the file), sends SIGHUP, and waits for the
        endpoint to say how the reload went; returns that line."""
        assert self.running()
        done = r"^.*(reloaded |reload refused).*$"
        before = self.count_log(done)
        if text is None:
            self.write_config()
        else:
            (self.harness.dir / f"{self.name}.toml").write_text(text)
        self.proc.send_signal(signal.SIGHUP)  # this process's own PID, never a name
        return self.wait_for_log(done, count=before + 1)

    # process

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, *extra_args: str) -> None:
        """Writes the configuration and starts `mailtun up` with its own, fresh log file."""
        if self.running():
            raise RuntimeError(f"{self.name} is already running")
        config = self.write_config()
        self.starts += 1
        self.log_path = self.harness.dir / f"{self.name}.{self.starts}.log"
        self.log_paths.append(self.log_path)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [mailtun_binary(), "up", "--config", str(config), "--log-level", "debug", *extra_args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, close_fds=True)
        with _live_lock:
            _live_children[self.proc.pid] = self.proc

    def _reaped(self, code: int) -> int:
        """Bookkeeping once the process has been waited for (idempotent)."""
        with _live_lock:
            first_time = _live_children.pop(self.proc.pid, None) is not None
        if first_time:
            self.exit_codes.append(code)
        return code

    def stop(self, timeout: float = STOP_TIMEOUT) -> Optional[int]:
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code (negative: signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # this process's own PID, never a name
            try:
                return self._reaped(self.proc.wait(timeout=timeout))
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self._reaped(self.proc.wait(timeout=10))

    def terminate(self) -> None:
        """SIGTERM without waiting (see wait_exit)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> int:
        """SIGKILL (kill -9) and reap."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.kill()
        return self._reaped(self.proc.wait(timeout=10))

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        return self._reaped(self.proc.wait(timeout=timeout))

    # logs

    def log_text(self) -> str:
        """The log of the current (or last) run."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def all_logs(self) -> str:
        out = []
        for p in self.log_paths:
            if p.exists():
                out.append(f"--- {p.name} ---\n{p.read_text(errors='replace')}")
        return "\n".join(out)

    def count_log(self, pattern: str) -> int:
        return len(re.findall(pattern, self.log_text(), flags=re.MULTILINE))

    def wait_for_log(self, pattern: str, timeout: float = EVENT_TIMEOUT, count: int = 1) -> str:
        """Polls the current log until `pattern` (a regex) has matched `count` times; returns the
        last matching line. Fails early if the process exits first."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern, flags=re.MULTILINE)
        for _ in range(int(timeout / POLL_INTERVAL) + 2):
            text = self.log_text()
            matches = list(regex.finditer(text))
            if len(matches) >= count:
                m = matches[count - 1]
                start = text.rfind("\n", 0, m.start()) + 1
                end = text.find("\n", m.end())
                return text[start:end if end >= 0 else len(text)]
            if not self.running():
                raise AssertionError(f"{self.name} exited ({self.proc.poll() if self.proc else None}) before "
                                     f"logging /{pattern}/:\n{tail(text)}")
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_INTERVAL)
        raise AssertionError(f"{self.name}: no /{pattern}/ (x{count}) within {timeout:.1f} s:\n{tail(self.log_text())}")


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


# ---- target servers -------------------------------------------------------------------------

def shut_down_listener(stopped: threading.Event, listener: socket.socket, lock: threading.Lock,
                       sockets, thread: threading.Thread) -> None:
    """Stops an accept loop: closes the listener and every socket it handed out, joins its thread."""
    stopped.set()
    try:
        listener.close()
    except OSError:
        pass
    with lock:
        open_sockets = list(sockets)
    for s in open_sockets:
        try:
            s.close()
        except OSError:
            pass
    thread.join(5)


class TcpServer:
    """A threaded TCP server on 127.0.0.1:0; `handle(conn)` runs in a thread per connection."""

    MAX_CONNECTIONS = 10_000

    def __init__(self, name: str):
        self.name = name
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(512)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self.accepted = 0
        self.active = 0       # connections being served now
        self.max_active = 0   # most at once
        self.errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._accept_loop, name=f"{name}-accept", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        # Bounded: at most MAX_CONNECTIONS connections; the 0.2 s timeout re-checks `_stopped`.
        while not self._stopped.is_set() and self.accepted < self.MAX_CONNECTIONS:
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(SOCKET_TIMEOUT)
            with self._lock:
                self._conns.append(conn)
                self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), name=f"{self.name}-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self.handle(conn)
        except BaseException as e:  # noqa: BLE001 - recorded for the test to inspect
            with self._lock:
                self.errors.append(e)
        finally:
            conn.close()
            with self._lock:
                self.active -= 1

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        shut_down_listener(self._stopped, self._listener, self._lock, self._conns, self._thread)


class EchoServer(TcpServer):
    """Echoes every byte; on EOF half-closes its side. Optionally says `greeting` first."""

    def __init__(self, greeting: bytes = b"", name: str = "echo"):
        self.greeting = greeting
        super().__init__(name)

    def handle(self, conn: socket.socket) -> None:
        if self.greeting:
            conn.sendall(self.greeting)
        deadline = time.monotonic() + 300
        for _ in range(10_000_000):
            if time.monotonic() > deadline:
                return
            data = conn.recv(1 << 18)
            if not data:
                conn.shutdown(socket.SHUT_WR)
                return
            conn.sendall(data)


class FakeLmtpServer(TcpServer):
    """Just enough LMTP (RFC 2033) for one transaction: keeps each message it accepts."""

    def __init__(self):
        self.messages: list[bytes] = []
        super().__init__("fake-lmtp")

    def handle(self, conn: socket.socket) -> None:
        deadline = time.monotonic() + SOCKET_TIMEOUT
        conn.sendall(b"220 fake.example.test LMTP ready\r\n")
        recipients = 0
        for _ in range(100):  # commands per connection, bounded
            line = recv_line(conn, deadline)
            verb = line[:4].upper()
            if not line or verb == b"QUIT":
                conn.sendall(b"221 2.0.0 bye\r\n")
                return
            if verb == b"LHLO":
                conn.sendall(b"250-fake.example.test\r\n250 PIPELINING\r\n")
            elif verb == b"MAIL":
                recipients = 0
                conn.sendall(b"250 2.1.0 sender ok\r\n")
            elif verb == b"RCPT":
                recipients += 1
                conn.sendall(b"250 2.1.5 recipient ok\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 end with <CRLF>.<CRLF>\r\n")
                message = bytearray()
                for _ in range(10_000):
                    data_line = recv_line(conn, deadline)
                    if data_line in (b".\r\n", b""):
                        break
                    message += data_line
                with self._lock:
                    self.messages.append(bytes(message))
                conn.sendall(b"250 2.0.0 saved\r\n" * recipients)  # LMTP: one reply per recipient
            else:
                conn.sendall(b"500 5.5.2 unknown command\r\n")


@dataclass
class BulkResult:
    received_bytes: int
    received_sha256: str
    sent_bytes: int
    error: Optional[BaseException] = None


class BulkServer(TcpServer):
    """On each connection: sends `payload` (then SHUT_WR) while reading everything the client sends
    and hashing it. Results land in `results`, one per connection, in completion order.

    With `payload` empty it is a sink; with `read=False` it only sends (a slow reader's source).
    With `half_close=False` it never sends FIN after the payload, like a server still busy."""

    def __init__(self, payload: bytes = b"", name: str = "bulk", limit: int = 1 << 31, close_after_send: bool = False,
                 half_close: bool = True):
        self.payload = payload
        self.half_close = half_close
        self.limit = limit
        self.close_after_send = close_after_send
        self.results: list[BulkResult] = []
        self.done = threading.Condition()
        self.sent_total = 0      # bytes handed to the kernel so far, over all connections
        self.received_total = 0  # bytes read so far, over all connections
        super().__init__(name)

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(120)
        sent = [0]
        send_error: list[BaseException] = []

        def sender() -> None:
            try:
                view = memoryview(self.payload)
                for start in range(0, len(view), 1 << 16):
                    piece = view[start:start + (1 << 16)]
                    conn.sendall(piece)
                    sent[0] += len(piece)
                    with self._lock:
                        self.sent_total += len(piece)
                if self.half_close:
                    conn.shutdown(socket.SHUT_WR)
            except BaseException as e:  # noqa: BLE001
                send_error.append(e)

        t = threading.Thread(target=sender, name=f"{self.name}-send", daemon=True)
        t.start()
        h = hashlib.sha256()
        n = 0
        error: Optional[BaseException] = None
        try:
            for _ in range(self.limit + 2):
                data = conn.recv(1 << 20)
                if not data:
                    break
                h.update(data)
                n += len(data)
                with self._lock:
                    self.received_total += len(data)
                if n > self.limit:
                    raise AssertionError("bulk server: over the limit")
        except BaseException as e:  # noqa: BLE001
            error = e
        t.join(180)
        if error is None and send_error:
            error = send_error[0]
        with self.done:
            self.results.append(BulkResult(n, h.hexdigest(), sent[0], error))
            self.done.notify_all()

    def wait_results(self, count: int, timeout: float = EVENT_TIMEOUT) -> list[BulkResult]:
        deadline = time.monotonic() + timeout
        with self.done:
            for _ in range(100_000):
                if len(self.results) >= count:
                    return list(self.results)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.done.wait(remaining)
        raise AssertionError(f"{self.name}: {len(self.results)} of {count} connections finished in {timeout:.1f} s")


class ReplyAfterEofServer(TcpServer):
    """Reads until EOF, then replies b"got N bytes sha256 HEX\\n" and closes."""

    def __init__(self, name: str = "reply-after-eof"):
        super().__init__(name)

    @staticmethod
    def expected_reply(data: bytes) -> bytes:
        return f"got {len(data)} bytes sha256 {sha256(data)}\n".encode()

    def handle(self, conn: socket.socket) -> None:
        data = recv_until_eof(conn, 1 << 28, time.monotonic() + 120)
        conn.sendall(self.expected_reply(data))
        conn.shutdown(socket.SHUT_WR)


# ---- recording proxy ------------------------------------------------------------------------

@dataclass
class ProxiedConnection:
    """One relayed connection. to_server: bytes from the client, to_client: bytes from the server."""
    to_server: bytearray = field(default_factory=bytearray)
    to_client: bytearray = field(default_factory=bytearray)
    server_closed: threading.Event = field(default_factory=threading.Event)  # EOF or error from upstream
    client_closed: threading.Event = field(default_factory=threading.Event)
    server_error: Optional[str] = None  # e.g. ConnectionResetError from upstream


class RecordingProxy:
    """Listens on 127.0.0.1:0 and relays each connection to 127.0.0.1:upstream_port, keeping a copy
    of the bytes in each direction. `source` picks the loopback address the upstream connections
    come from (the tunnel listener rate-limits handshakes per source address)."""

    MAX_CONNECTIONS = 1000

    def __init__(self, upstream_port: int, source: str = LOOPBACK, name: str = "proxy"):
        self.upstream_port = upstream_port
        self.source = source
        self.name = name
        self.connections: list[ProxiedConnection] = []
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._stopped = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name=f"{name}-accept", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        for _ in range(self.MAX_CONNECTIONS):
            conn = None
            for _ in range(10_000_000):
                if self._stopped.is_set():
                    return
                try:
                    conn, _ = self._listener.accept()
                    break
                except socket.timeout:
                    continue
                except OSError:
                    return
            if conn is None:
                return
            try:
                upstream = connect(self.upstream_port, timeout=5, source=self.source)
            except OSError:
                conn.close()
                continue
            conn.settimeout(None)
            upstream.settimeout(None)
            record = ProxiedConnection()
            with self._lock:
                self.connections.append(record)
                self._sockets += [conn, upstream]
            threading.Thread(target=self._pump, args=(conn, upstream, record.to_server, record.client_closed, record, False),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, conn, record.to_client, record.server_closed, record, True),
                             daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, record: bytearray, closed: threading.Event,
              conn: ProxiedConnection, from_server: bool) -> None:
        try:
            for _ in range(100_000_000):
                try:
                    data = src.recv(1 << 16)
                except OSError as e:
                    if from_server:
                        conn.server_error = repr(e)
                    # Pass a reset on as a reset.
                    try:
                        dst.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        dst.close()
                    except OSError:
                        pass
                    return
                if not data:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                with self._lock:
                    record += data
                try:
                    dst.sendall(data)
                except OSError:
                    return
        finally:
            closed.set()

    def wait_for(self, predicate: Callable[[list[ProxiedConnection]], bool], timeout: float = EVENT_TIMEOUT,
                 what: str = "proxy condition") -> None:
        def check() -> bool:
            with self._lock:
                snapshot = list(self.connections)
            return predicate(snapshot)
        wait_until(check, timeout, what)

    def close(self) -> None:
        shut_down_listener(self._stopped, self._listener, self._lock, self._sockets, self._thread)


# ---- the harness ----------------------------------------------------------------------------

class Harness:
    """A temporary directory and everything started in it; `close()` undoes it all."""

    def __init__(self, label: str = "mailtun-it"):
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", label)[-60:]
        self.dir = Path(tempfile.mkdtemp(prefix=f"mailtun-it-{safe}-"))
        self.endpoints: list[Endpoint] = []
        self._closables: list[object] = []
        self.final_logs = ""

    # keys

    def genkey(self, name: str) -> Keys:
        path = self.dir / f"{name}.key"
        private = run_mailtun("genkey")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(private)
        os.chmod(path, 0o600)
        public = run_mailtun("pubkey", stdin=private).decode().strip()
        return Keys(path, public)

    def genpsk(self, name: str) -> Path:
        path = self.dir / f"{name}.psk"
        psk = run_mailtun("genpsk")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(psk)
        os.chmod(path, 0o600)
        return path

    # endpoints

    def endpoint(self, name: str, listen: bool = False) -> Endpoint:
        e = Endpoint(self, name, self.genkey(name), free_port() if listen else None)
        self.endpoints.append(e)
        return e

    def vps_and_office(self, office_dials: Optional[int] = None, psk: bool = True,
                       keepalive: Optional[int] = None) -> tuple[Endpoint, Endpoint]:
        """The usual pair: "vps" listens, "office" dials it (or `office_dials`, e.g. a proxy port).
        Both know each other; with `psk` they share a preshared key."""
        vps = self.endpoint("vps", listen=True)
        office = self.endpoint("office")
        psk_file = self.genpsk("office-vps") if psk else None
        vps.add_peer(office, psk_file=psk_file, keepalive=keepalive)
        office.add_peer(vps, dial_port=office_dials if office_dials is not None else vps.listen_port,
                        psk_file=psk_file, keepalive=keepalive)
        return vps, office

    @staticmethod
    def start_pair(vps: Endpoint, office: Endpoint, timeout: float = EVENT_TIMEOUT) -> None:
        """Starts both and waits until each reports the other up."""
        vps.start()
        vps.wait_for_log(r"listening for peers on", timeout)
        office.start()
        office.wait_for_log(r"peer vps up \(endpoint ", timeout)
        vps.wait_for_log(r"peer office up \(endpoint ", timeout)

    # other things to clean up

    def add(self, thing):
        """Registers a server or proxy (anything with close()) for cleanup; returns it."""
        self._closables.append(thing)
        return thing

    def echo_server(self, greeting: bytes = b"") -> EchoServer:
        return self.add(EchoServer(greeting))

    def bulk_server(self, payload: bytes = b"", **kwargs) -> BulkServer:
        return self.add(BulkServer(payload, **kwargs))

    def reply_after_eof_server(self) -> ReplyAfterEofServer:
        return self.add(ReplyAfterEofServer())

    def proxy(self, upstream_port: int, source: str = LOOPBACK, name: str = "proxy") -> RecordingProxy:
        return self.add(RecordingProxy(upstream_port, source, name))

    def logs(self) -> str:
        return "\n".join(e.all_logs() for e in self.endpoints)

    def close(self) -> None:
        """Stops every endpoint (SIGTERM, then SIGKILL after a bound), closes servers and proxies,
        keeps the logs in `final_logs`, removes the directory (unless MAILTUN_KEEP_TMP is set)."""
        try:
            for e in self.endpoints:
                if e.running():
                    try:
                        e.stop(timeout=5)
                    except Exception:  # noqa: BLE001 - keep cleaning
                        pass
            for thing in reversed(self._closables):
                try:
                    thing.close()
                except Exception:  # noqa: BLE001
                    pass
            self.final_logs = self.logs()
        finally:
            if os.environ.get("MAILTUN_KEEP_TMP"):
                sys.stderr.write(f"kept {self.dir}\n")
            else:
                shutil.rmtree(self.dir, ignore_errors=True)


class TunnelTestCase(unittest.TestCase):
    """Gives each test `self.h`, a Harness cleaned up after the test, and prints the endpoints'
    logs to stderr when the test fails."""

    def setUp(self) -> None:
        self.h = Harness(self.id())
        self.addCleanup(self.h.close)

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        self.h = None
        out = super().run(result)
        # By now the cleanups have run: self.h.final_logs holds every endpoint's log.
        if len(result.failures) + len(result.errors) > before and self.h is not None:
            sys.stderr.write(f"\n===== endpoint logs of {self.id()} =====\n{self.h.final_logs}\n")
        return out
