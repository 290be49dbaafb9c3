"""Half-close (FIN) in each direction: one side's end of data does not end the other side's."""

import os
import socket
import time
import unittest

from harness import ReplyAfterEofServer, TunnelTestCase, connect, recv_until_eof, send_all_chunked, sha256


class HalfClose(TunnelTestCase):
    def test_client_shuts_write_and_still_reads_the_reply(self):
        server = self.h.reply_after_eof_server()
        vps, office = self.h.vps_and_office()
        office.add_expose("reply", server.port, ["vps"], protocol="tcp")
        port = vps.add_forward("reply", "office", protocol="tcp")
        self.h.start_pair(vps, office)

        request = os.urandom(1 << 20)
        with connect(port) as client:
            send_all_chunked(client, request)
            client.shutdown(socket.SHUT_WR)
            # The server answers only once it has seen EOF, so the reply proves the FIN went
            # through while this direction stayed open.
            reply = recv_until_eof(client, 4096, time.monotonic() + 10)
        self.assertEqual(reply, ReplyAfterEofServer.expected_reply(request))
        self.assertEqual(server.errors, [])

    def test_server_shuts_write_and_still_receives(self):
        greeting = b"220 this side is done talking\r\n"
        # Sends the greeting, shuts its write side, keeps reading and hashing until EOF.
        server = self.h.bulk_server(greeting, name="greet-then-listen")
        vps, office = self.h.vps_and_office()
        office.add_expose("greet", server.port, ["vps"], protocol="tcp")
        port = vps.add_forward("greet", "office", protocol="tcp")
        self.h.start_pair(vps, office)

        upload = os.urandom(2 << 20)
        with connect(port) as client:
            # EOF from the server first ...
            self.assertEqual(recv_until_eof(client, 4096, time.monotonic() + 10), greeting)
            # ... and the client's direction still carries everything.
            send_all_chunked(client, upload)
            client.shutdown(socket.SHUT_WR)
            result = server.wait_results(1)[0]
            self.assertIsNone(result.error)
            self.assertEqual((result.received_bytes, result.received_sha256), (len(upload), sha256(upload)))
            # Both directions finished: the stream ends cleanly, no reset.
            client.settimeout(10)
            self.assertEqual(client.recv(1), b"")


if __name__ == "__main__":
    unittest.main()
