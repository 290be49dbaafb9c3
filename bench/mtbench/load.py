"""The load clients, run as their own process so that their CPU is never a tunnel's and the
harness stays idle while it samples. Each prints one JSON object on stdout.

  bulk --mib N          connect, wait for the greeting, send N MiB, half-close, wait for the
                        sink's "250 <count>": {"bytes", "seconds"}
  greeting --count K    K times: connect, time until the first byte of the greeting: {"ms": [...]}
  connrate --count N --seconds T --concurrency C
                        short connections (connect, greeting, close) until N are done or T has
                        passed, C at a time: {"done", "seconds", "errors"}
  hold --count N        open N connections, each greeted, print {"opened", "seconds"}, keep them
                        until a line (or EOF) on stdin, then close them all

Every loop is bounded in count and in time. Standard library only.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import selectors
import socket
import sys
import time
from typing import Optional

GREETING_PREFIX = b"220 "
SOCKET_TIMEOUT = 30.0
SEND_CHUNK = 1 << 20


def connect(host: str, port: int) -> socket.socket:
    s = socket.create_connection((host, port), timeout=SOCKET_TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_line(s: socket.socket, limit: int = 1024) -> bytes:
    line = bytearray()
    for _ in range(limit):
        b = s.recv(limit - len(line))
        if not b:
            break
        line += b
        if line.endswith(b"\n"):
            break
    return bytes(line)


def expect_greeting(s: socket.socket) -> None:
    line = read_line(s)
    if not line.startswith(GREETING_PREFIX):
        raise ConnectionError(f"no greeting, got {line[:60]!r}")


def bulk(host: str, port: int, mib: int) -> dict:
    s = connect(host, port)
    expect_greeting(s)
    payload = memoryview(bytes(range(256)) * (SEND_CHUNK // 256))
    start = time.monotonic()
    for _ in range(mib):
        s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(max(SOCKET_TIMEOUT, mib / 10))  # at 10 MiB/s something is wrong, but let it finish
    reply = read_line(s)
    seconds = time.monotonic() - start
    s.close()
    expected = b"250 %d" % (mib * SEND_CHUNK)
    if not reply.startswith(expected):
        raise ConnectionError(f"sink answered {reply!r}, expected {expected!r}")
    return {"bytes": mib * SEND_CHUNK, "seconds": seconds}


def greeting(host: str, port: int, count: int) -> dict:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        s = socket.create_connection((host, port), timeout=SOCKET_TIMEOUT)
        first = s.recv(1)
        elapsed = time.perf_counter() - start
        s.close()
        if first != GREETING_PREFIX[:1]:
            raise ConnectionError(f"no greeting, got {first!r}")
        samples.append(elapsed * 1000.0)
    return {"ms": samples}


def one_short_connection(host: str, port: int) -> None:
    s = connect(host, port)
    try:
        expect_greeting(s)
    finally:
        s.close()


class ShortConnection:
    """One short connection driven without blocking: connect, read the greeting, close."""

    def __init__(self, host: str, port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.deadline = time.monotonic() + SOCKET_TIMEOUT
        self.line = b""
        self.connected = False
        err = self.sock.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            self.sock.close()
            raise OSError(err, os.strerror(err))

    def step(self) -> Optional[bool]:
        """Called when the socket is ready: None while unfinished, else whether it succeeded."""
        if not self.connected:
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                return False
            self.connected = True
            return None
        try:
            data = self.sock.recv(1024)
        except BlockingIOError:
            return None
        except OSError:
            return False
        self.line += data
        if b"\n" in self.line or not data or len(self.line) > 1024:
            return self.line.startswith(GREETING_PREFIX)
        return None


def connrate_concurrent(host: str, port: int, count: int, seconds: float, concurrency: int) -> dict:
    """`concurrency` connections in flight at once, one selector, no threads: the client's own
    cost per connection stays small beside the tunnel's."""
    deadline = time.monotonic() + seconds
    started = done = errors = 0
    active: dict[int, ShortConnection] = {}
    start = time.monotonic()
    with selectors.DefaultSelector() as sel:
        # Bounded: each pass finishes at least one connection, or times one out, or ends.
        for _ in range(4 * count + 4 * concurrency + 100_000):
            while len(active) < concurrency and started < count and time.monotonic() < deadline:
                started += 1
                try:
                    c = ShortConnection(host, port)
                except OSError:
                    errors += 1
                    continue
                active[c.sock.fileno()] = c
                sel.register(c.sock, selectors.EVENT_WRITE, c)
            if not active:
                break
            now = time.monotonic()
            for c in [c for c in active.values() if now > c.deadline]:
                sel.unregister(c.sock)
                del active[c.sock.fileno()]
                c.sock.close()
                errors += 1
            for key, _ in sel.select(timeout=0.5):
                c = key.data
                outcome = c.step()
                if outcome is None:
                    if c.connected:
                        sel.modify(c.sock, selectors.EVENT_READ, c)
                    continue
                sel.unregister(c.sock)
                del active[c.sock.fileno()]
                c.sock.close()
                done, errors = (done + 1, errors) if outcome else (done, errors + 1)
    return {"done": done, "seconds": time.monotonic() - start, "errors": errors}


def connrate(host: str, port: int, count: int, seconds: float, concurrency: int) -> dict:
    if concurrency > 1:
        return connrate_concurrent(host, port, count, seconds, concurrency)
    # One at a time with plain blocking sockets: less of the client's own overhead in the number.
    deadline = time.monotonic() + seconds
    done = errors = 0
    start = time.monotonic()
    for _ in range(count):
        if time.monotonic() >= deadline:
            break
        try:
            one_short_connection(host, port)
            done += 1
        except (OSError, ConnectionError):
            errors += 1
    return {"done": done, "seconds": time.monotonic() - start, "errors": errors}


def hold(host: str, port: int, count: int, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    start = time.monotonic()
    held = []
    for _ in range(count):
        if time.monotonic() >= deadline:
            break
        s = connect(host, port)
        held.append(s)
        expect_greeting(s)
    print(json.dumps({"opened": len(held), "seconds": time.monotonic() - start}), flush=True)
    sys.stdin.readline()  # the harness has measured; EOF works as well
    for s in held:
        s.close()
    return {"closed": len(held)}


def main() -> int:
    global SOCKET_TIMEOUT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("measure", choices=["bulk", "greeting", "connrate", "hold"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=SOCKET_TIMEOUT, help="bound of each socket operation")
    args = parser.parse_args()
    SOCKET_TIMEOUT = args.timeout
    if args.measure == "bulk":
        result = bulk(args.host, args.port, args.mib)
    elif args.measure == "greeting":
        result = greeting(args.host, args.port, args.count)
    elif args.measure == "connrate":
        result = connrate(args.host, args.port, args.count, args.seconds, args.concurrency)
    else:
        result = hold(args.host, args.port, args.count, args.seconds)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
