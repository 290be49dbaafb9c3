"""The server every contestant carries traffic to: like a mail server it greets at once.

On each connection it sends "220 sink ready\\r\\n", counts every byte the client sends, and at the
client's EOF answers "250 <count>\\r\\n" and closes. The client thereby knows when the last byte
arrived, not merely when it left.

With --lmtp it is an LMTP server instead, for smtp-source -L: it answers LHLO, MAIL, RCPT, DATA
(every recipient accepted, the message counted and dropped), RSET, NOOP and QUIT, one reply per
command, as a mail store would.

Run: python3 sink.py [--host 127.0.0.1] [--port 0] [--lmtp]; prints the port it listens on, then
serves until SIGTERM. Standard library only, one process, asyncio (1000 held connections cost no threads).
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


class LmtpSinkProtocol(asyncio.Protocol):
    """One LMTP session: replies line by line; a DATA phase ends at the line ".", answered once per
    accepted recipient (RFC 2033)."""

    def __init__(self) -> None:
        self.pending = b""
        self.in_data = False
        self.recipients = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(b"220 sink LMTP ready\r\n")

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.pending += data
        replies = []
        while b"\n" in self.pending:
            line, self.pending = self.pending.split(b"\n", 1)
            line = line.rstrip(b"\r")
            if self.in_data:
                if line == b".":
                    self.in_data = False
                    replies += [b"250 2.0.0 delivered\r\n"] * self.recipients
                    self.recipients = 0
                continue
            verb = line[:4].upper()
            if verb == b"LHLO":
                replies.append(b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == b"RCPT":
                self.recipients += 1
                replies.append(b"250 2.1.5 ok\r\n")
            elif verb == b"DATA":
                self.in_data = True
                replies.append(b"354 end with .\r\n")
            elif verb == b"QUIT":
                replies.append(b"221 2.0.0 bye\r\n")
                self.transport.write(b"".join(replies))
                self.transport.close()
                return
            elif verb == b"RSET":
                self.recipients = 0
                replies.append(b"250 2.0.0 ok\r\n")
            elif verb in (b"MAIL", b"NOOP"):
                replies.append(b"250 2.0.0 ok\r\n")
            else:
                replies.append(b"500 5.5.2 unknown command\r\n")
        if replies:
            self.transport.write(b"".join(replies))


async def serve(host: str, port: int, lmtp: bool = False) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(LmtpSinkProtocol if lmtp else SinkProtocol, host, port, backlog=4096,
                                      reuse_address=True)
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
    parser.add_argument("--lmtp", action="store_true", help="speak LMTP (for smtp-source -L)")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.lmtp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
