"""A userspace delay relay: what stands for the WAN between the two ends of every tunnel.

Each byte (TCP) or datagram (UDP) is held for half the round-trip time in each direction, so a
request and its answer cross it in one RTT. A new TCP connection is not passed on until 1.5 RTT
after it was accepted: a real connection's server sees it only once SYN, SYN-ACK and ACK have
crossed the link, so a client that opens a connection per request pays for that here as it would
there. Every contestant crosses the same relay; it is calibrated on its own in the report.

Run: python3 delay_relay.py --rtt-ms 20 --target HOST:PORT [--udp] [--listen-host 127.0.0.1]
prints the port it listens on, then relays until SIGTERM. Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import signal
import sys
import time

CHUNK = 256 * 1024
# Bytes held per direction of a connection before reading pauses: enough for 1 GB/s at 20 ms RTT.
MAX_HELD = 32 << 20


class DelayedPipe:
    """One direction of a TCP connection: read, hold for `delay` seconds, write; EOF passed on."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float):
        self.reader, self.writer, self.delay = reader, writer, delay
        self.held: collections.deque[tuple[float, bytes]] = collections.deque()
        self.held_bytes = 0
        self.room = asyncio.Event()
        self.room.set()
        self.arrived = asyncio.Event()

    async def read_side(self) -> None:
        try:
            while True:  # ends at EOF or error; each pass reads at least one byte
                await self.room.wait()
                data = await self.reader.read(CHUNK)
                self.held.append((time.monotonic() + self.delay, data))
                self.held_bytes += len(data)
                if self.held_bytes >= MAX_HELD:
                    self.room.clear()
                self.arrived.set()
                if not data:
                    return
        except (ConnectionError, OSError):
            self.held.append((time.monotonic(), b""))
            self.arrived.set()

    async def write_side(self) -> None:
        try:
            while True:  # ends after passing on EOF
                await self.arrived.wait()
                if not self.held:
                    self.arrived.clear()
                    continue
                due, data = self.held.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if self.writer.can_write_eof():
                        self.writer.write_eof()
                    return
                self.writer.write(data)
                await self.writer.drain()
                self.held_bytes -= len(data)
                if self.held_bytes < MAX_HELD:
                    self.room.set()
        except (ConnectionError, OSError):
            return


async def relay_tcp(rtt: float, target: tuple[str, int], listen_host: str) -> None:
    one_way = rtt / 2

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(1.5 * rtt)  # SYN, SYN-ACK, ACK
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.close()
            return
        pipes = [DelayedPipe(client_reader, up_writer, one_way), DelayedPipe(up_reader, client_writer, one_way)]
        try:
            await asyncio.gather(*(p.read_side() for p in pipes), *(p.write_side() for p in pipes))
        except asyncio.CancelledError:
            pass  # the relay is stopping with this connection still open
        for w in (client_writer, up_writer):
            w.close()

    server = await asyncio.start_server(handle, listen_host, 0, backlog=4096, limit=CHUNK)
    print(server.sockets[0].getsockname()[1], flush=True)
    await wait_for_stop()
    server.close()


class DelayedDatagrams(asyncio.DatagramProtocol):
    """UDP both ways: what arrives on the listening socket goes to `target` from one upstream
    socket; what comes back goes to whoever sent last. Each datagram held `delay` seconds."""

    def __init__(self, target: tuple[str, int], delay: float):
        self.target, self.delay = target, delay
        self.client_addr = None
        self.transport = None
        self.upstream = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.client_addr = addr
        asyncio.get_running_loop().call_later(self.delay, self.upstream.sendto, data, self.target)

    def back(self, data: bytes) -> None:
        if self.client_addr is not None:
            asyncio.get_running_loop().call_later(self.delay, self.transport.sendto, data, self.client_addr)


class Upstream(asyncio.DatagramProtocol):
    def __init__(self, downstream: DelayedDatagrams):
        self.downstream = downstream

    def datagram_received(self, data: bytes, addr) -> None:
        self.downstream.back(data)


async def relay_udp(rtt: float, target: tuple[str, int], listen_host: str) -> None:
    loop = asyncio.get_running_loop()
    down_transport, down = await loop.create_datagram_endpoint(
        lambda: DelayedDatagrams(target, rtt / 2), local_addr=(listen_host, 0))
    up_transport, _ = await loop.create_datagram_endpoint(lambda: Upstream(down), local_addr=("0.0.0.0", 0))
    down.upstream = up_transport
    print(down_transport.get_extra_info("sockname")[1], flush=True)
    await wait_for_stop()
    down_transport.close()
    up_transport.close()


async def wait_for_stop() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rtt-ms", type=float, required=True)
    parser.add_argument("--target", required=True, help="HOST:PORT to relay to")
    parser.add_argument("--udp", action="store_true", help="relay datagrams (WireGuard) instead of TCP")
    parser.add_argument("--listen-host", default="127.0.0.1")
    args = parser.parse_args()
    host, port = args.target.rsplit(":", 1)
    relay = relay_udp if args.udp else relay_tcp
    asyncio.run(relay(args.rtt_ms / 1000.0, (host, int(port)), args.listen_host))
    return 0


if __name__ == "__main__":
    sys.exit(main())
