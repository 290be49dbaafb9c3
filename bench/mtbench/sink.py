"""The server every contestant carries traffic to: like a mail server it greets at once.

On each connection it sends "220 sink ready\\r\\n", counts every byte the client sends, and at the
client's EOF answers "250 <count>\\r\\n" and closes. The client thereby knows when the last byte
arrived, not merely when it left.

Run: python3 sink.py [--host 127.0.0.1] [--port 0]; prints the port it listens on, then serves
until SIGTERM. Standard library only, one process, asyncio (1000 held connections cost no threads).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

GREETING = b"220 sink ready\r\n"
READ_BUFFER = 1 << 20


class SinkProtocol(asyncio.BufferedProtocol):
    def __init__(self) -> None:
        self.buffer = bytearray(READ_BUFFER)
        self.received = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(GREETING)

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self.buffer)

    def buffer_updated(self, nbytes: int) -> None:
        self.received += nbytes

    def eof_received(self) -> bool:
        assert self.transport is not None
        self.transport.write(b"250 %d\r\n" % self.received)
        self.transport.close()
        return True


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(SinkProtocol, host, port, backlog=4096, reuse_address=True)
    print(server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
