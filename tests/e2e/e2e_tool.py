#!/usr/bin/env python3
"""Small network and accounting helpers for tests/e2e/run.sh (standard library only).

Every subcommand is bounded in time and prints one line (or one JSON object) that run.sh parses.

  banner HOST PORT [--timeout S]         connect, print the peer's first line ("REFUSED", "TIMEOUT", ...)
  probe HOST PORT [PORT...]              print "PORT open|refused|timeout|unreachable|error" per port
  scan HOST [--deadline S]               connect to every TCP port 1-65535; JSON {open: [...], scanned: n}
  hostile HOST PORT --mode M [--wait S]  send garbage (random | badmac | idle) and report what came back
  record-proxy --listen A:P --target A:P --out FILE --duration S
                                         TCP relay that records, per connection, what each side sent
  submission HOST PORT [--user U --password P] [--rcpt R]
                                         EHLO, STARTTLS, then AUTH PLAIN or (without --user) MAIL and RCPT;
                                         JSON: {auth_before_tls, tls, auth, rcpt} with the server's replies
  imap HOST PORT --user U --password P  a mail client on the road: greeting, STARTTLS, LOGIN, LOGOUT;
                                         JSON: {greeting, tls, login} with the server's answers
  mailstats --maillog F --offset N --sender S --maildir D [--maildir D2 ...]
                                         JSON: accepted/delivered/lost/duplicated/deferred of one scenario;
                                         each D is a maildir (new/, cur/) or a flat directory of messages
                                         (a sink), and a message counts once per file that holds it
"""

import argparse
import asyncio
import base64
import errno
import imaplib
import json
import os
import re
import select
import smtplib
import socket
import ssl
import sys
import time


def _split(hostport):
    host, _, port = hostport.rpartition(":")
    return host, int(port)


def _connect(host, port, timeout):
    """Returns (socket or None, outcome word)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return s, "open"
    except ConnectionRefusedError:
        outcome = "refused"
    except socket.timeout:
        outcome = "timeout"
    except OSError as e:
        outcome = "unreachable" if e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH) else "error:" + e.strerror
    s.close()
    return None, outcome


def cmd_banner(a):
    s, outcome = _connect(a.host, a.port, a.timeout)
    if s is None:
        print(outcome.upper())
        return 1
    data = b""
    deadline = time.monotonic() + a.timeout
    try:
        while b"\n" not in data and time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, OSError):
        pass
    s.close()
    line = data.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    print(line if line else "NO-BANNER")
    return 0


def cmd_probe(a):
    for port in a.ports:
        s, outcome = _connect(a.host, port, a.timeout)
        if s is not None:
            s.close()
        print(f"{port} {outcome}")
    return 0


def cmd_scan(a):
    """Non-blocking connects in batches; a port counts as open only on a completed handshake."""
    deadline = time.monotonic() + a.deadline
    open_ports, scanned, unanswered = [], 0, 0
    ports = list(range(1, 65536))
    batch = 512
    for i in range(0, len(ports), batch):
        if time.monotonic() > deadline:
            break
        pending = {}
        for port in ports[i:i + batch]:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((a.host, port))
            pending[s.fileno()] = (s, port)
        poll = select.poll()
        for fd in pending:
            poll.register(fd, select.POLLOUT | select.POLLERR | select.POLLHUP)
        batch_deadline = min(deadline, time.monotonic() + 2.0)
        while pending and time.monotonic() < batch_deadline:
            for fd, _ in poll.poll(max(1, int((batch_deadline - time.monotonic()) * 1000))):
                s, port = pending.pop(fd)
                poll.unregister(fd)
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    open_ports.append(port)
                scanned += 1
                s.close()
        for s, _ in pending.values():
            unanswered += 1
            scanned += 1
            s.close()
    print(json.dumps({"open": open_ports, "scanned": scanned, "unanswered": unanswered}))
    return 0


def cmd_hostile(a):
    """Sends something no peer would send and counts the bytes that come back before the close."""
    s, outcome = _connect(a.host, a.port, 3.0)
    if s is None:
        print(json.dumps({"connected": False, "outcome": outcome}))
        return 0
    if a.mode == "random":
        payload = os.urandom(1000)
    elif a.mode == "badmac":
        # A well-formed message-1 envelope (length 128, type 1, zero reserved bytes) with random
        # noise and a random mac1: it must die at the mac1 check, before any Diffie-Hellman.
        payload = b"\x00\x80\x01\x00\x00\x00" + os.urandom(124)
    else:
        payload = b""
    start = time.monotonic()
    received, how = 0, "timeout"
    try:
        if payload:
            s.sendall(payload)
        while time.monotonic() - start < a.wait:
            s.settimeout(max(0.05, a.wait - (time.monotonic() - start)))
            chunk = s.recv(65536)
            if not chunk:
                how = "eof"
                break
            received += len(chunk)
    except socket.timeout:
        how = "timeout"
    except ConnectionResetError:
        how = "reset"
    except OSError as e:
        how = "error:" + (e.strerror or str(e))
    s.close()
    print(json.dumps({"connected": True, "mode": a.mode, "sent": len(payload), "received": received,
                      "closed": how, "seconds": round(time.monotonic() - start, 2)}))
    return 0


def cmd_record_proxy(a):
    listen_host, listen_port = _split(a.listen)
    target_host, target_port = _split(a.target)
    records = []

    async def pump(reader, writer, rec, key):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if key == "c2s" and len(rec["c2s_head"]) < 16:
                    rec["c2s_head"] += data[:16 - len(rec["c2s_head"])]
                rec[key] += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def handle(creader, cwriter):
        rec = {"c2s": 0, "s2c": 0, "c2s_head": b""}
        records.append(rec)
        try:
            sreader, swriter = await asyncio.open_connection(target_host, target_port)
        except OSError as e:
            rec["error"] = str(e)
            cwriter.close()
            return
        await asyncio.gather(pump(creader, swriter, rec, "c2s"), pump(sreader, cwriter, rec, "s2c"))

    async def main():
        server = await asyncio.start_server(handle, listen_host, listen_port)
        async with server:
            await asyncio.sleep(a.duration)

    asyncio.run(main())
    out = [{"c2s": r["c2s"], "s2c": r["s2c"], "c2s_head": r["c2s_head"].hex(), **({"error": r["error"]} if "error" in r else {})}
           for r in records]
    with open(a.out, "w") as f:
        json.dump(out, f)
    return 0


def cmd_submission(a):
    """A mail client on the submission port, as init's master.cf lines expect one: TLS first."""
    def reply(code_message):
        code, message = code_message
        return f"{code} {message.decode('utf-8', 'replace')}"

    out = {"auth_before_tls": None, "tls": None, "auth": None, "rcpt": None}
    try:
        with smtplib.SMTP(a.host, a.port, local_hostname="client.example.net", timeout=a.timeout) as s:
            s.ehlo()
            out["auth_before_tls"] = s.has_extn("auth")
            context = ssl.create_default_context()
            context.check_hostname = False  # the test's throwaway certificate
            context.verify_mode = ssl.CERT_NONE
            out["tls"] = reply(s.starttls(context=context))
            s.ehlo()
            if a.user is not None:
                token = base64.b64encode(f"\0{a.user}\0{a.password}".encode()).decode()
                out["auth"] = reply(s.docmd("AUTH", "PLAIN " + token))
            else:
                s.docmd("MAIL", "FROM:<sender@example.net>")
                out["rcpt"] = reply(s.docmd("RCPT", f"TO:<{a.rcpt}>"))
    except (OSError, smtplib.SMTPException) as e:
        out["error"] = repr(e)
    print(json.dumps(out))
    return 0


def cmd_imap(a):
    """An IMAP client away from the office: STARTTLS before LOGIN, as a mail client should."""
    def text(value):
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

    out = {"greeting": None, "tls": None, "login": None}
    try:
        with imaplib.IMAP4(a.host, a.port, timeout=a.timeout) as m:
            out["greeting"] = text(m.welcome)
            context = ssl.create_default_context()
            context.check_hostname = False  # the test's throwaway certificate
            context.verify_mode = ssl.CERT_NONE
            typ, data = m.starttls(ssl_context=context)
            out["tls"] = typ + " " + text(data[0] if data else "")
            try:
                typ, data = m.login(a.user, a.password)
                out["login"] = typ + " " + text(data[0] if data else "")
            except imaplib.IMAP4.error as e:  # a NO answer: imaplib raises with the server's text
                out["login"] = "NO " + text(e.args[0] if e.args else e)
    except (OSError, imaplib.IMAP4.error) as e:
        out["error"] = repr(e)
    print(json.dumps(out))
    return 0


_LOG = re.compile(r"postfix[\w.-]*(?:/[\w.-]+)*/[\w-]+\[\d+\]: ([0-9A-Za-z]{6,}): (.*)$")  # syslog_name postfix, postfix-vps2, …
_RECEIVED_ID = re.compile(r"\(Postfix\) with E?SMTPS?A? id ([0-9A-Za-z]{6,})")


def _message_dirs(directory):
    """A maildir's new/ and cur/, or the directory itself when it is a flat one (a sink)."""
    subs = [os.path.join(directory, s) for s in ("new", "cur")]
    return [d for d in subs if os.path.isdir(d)] or [directory]


def _maildir_queue_ids(maildirs):
    """Maps the Postfix queue id in each delivered file's Received header to a count of files."""
    counts = {}
    files = 0
    for d in (sub for m in maildirs for sub in _message_dirs(m)):
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            try:
                with open(os.path.join(d, name), "rb") as f:
                    head = f.read(16384).split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
            except OSError:
                continue
            files += 1
            unfolded = re.sub(rb"\r?\n[ \t]+", b" ", head).decode("utf-8", "replace")
            for qid in _RECEIVED_ID.findall(unfolded):
                counts[qid] = counts.get(qid, 0) + 1
    return counts, files


def cmd_mailstats(a):
    with open(a.maillog, "rb") as f:
        f.seek(a.offset)
        lines = f.read().decode("utf-8", "replace").splitlines()
    accepted, deferred, deferred_421, sent, bounced = set(), 0, 0, set(), 0
    # Deferred after the end of data went out: the one case where SMTP itself may deliver twice
    # (the server took the message, its reply was lost with the connection: RFC 1047)
    maybe_twice = 0
    by_qid = {}
    sample_421 = ""
    for line in lines:
        m = _LOG.search(line)
        if not m:
            continue
        qid, rest = m.group(1), m.group(2)
        by_qid.setdefault(qid, []).append(rest)
        if rest.startswith("from=<%s>" % a.sender):
            accepted.add(qid)
    for qid in accepted:
        for rest in by_qid.get(qid, []):
            if "status=deferred" in rest:
                deferred += 1
                if "may be sent more than once" in rest:
                    maybe_twice += 1
                if "421 4.4.1 mailtun" in rest:
                    deferred_421 += 1
                    sample_421 = sample_421 or rest
            elif "status=sent" in rest:
                sent.add(qid)
            elif "status=bounced" in rest:
                bounced += 1
    counts, files = _maildir_queue_ids(a.maildir)
    delivered = {q for q in accepted if counts.get(q, 0) > 0}
    print(json.dumps({
        "accepted": len(accepted),
        "delivered": len(delivered),
        "lost": len(accepted - delivered),
        "duplicated": sum(counts[q] - 1 for q in delivered),
        "postfix_sent": len(sent),
        "deferred": deferred,
        "deferred_421": deferred_421,
        "deferred_maybe_twice": maybe_twice,
        "bounced": bounced,
        "maildir_files": files,
        "sample_421": sample_421[:300],
    }))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("banner"); b.add_argument("host"); b.add_argument("port", type=int)
    b.add_argument("--timeout", type=float, default=5.0)
    pr = sub.add_parser("probe"); pr.add_argument("host"); pr.add_argument("ports", type=int, nargs="+")
    pr.add_argument("--timeout", type=float, default=3.0)
    sc = sub.add_parser("scan"); sc.add_argument("host"); sc.add_argument("--deadline", type=float, default=60.0)
    h = sub.add_parser("hostile"); h.add_argument("host"); h.add_argument("port", type=int)
    h.add_argument("--mode", choices=["random", "badmac", "idle"], required=True)
    h.add_argument("--wait", type=float, default=8.0)
    r = sub.add_parser("record-proxy"); r.add_argument("--listen", required=True); r.add_argument("--target", required=True)
    r.add_argument("--out", required=True); r.add_argument("--duration", type=float, required=True)
    m = sub.add_parser("mailstats"); m.add_argument("--maillog", required=True); m.add_argument("--offset", type=int, default=0)
    m.add_argument("--sender", required=True); m.add_argument("--maildir", required=True, action="append")
    su = sub.add_parser("submission"); su.add_argument("host"); su.add_argument("port", type=int)
    su.add_argument("--user"); su.add_argument("--password", default="")
    su.add_argument("--rcpt", default="someone@example.net"); su.add_argument("--timeout", type=float, default=30.0)
    im = sub.add_parser("imap"); im.add_argument("host"); im.add_argument("port", type=int)
    im.add_argument("--user", required=True); im.add_argument("--password", required=True)
    im.add_argument("--timeout", type=float, default=30.0)
    a = p.parse_args()
    return {"banner": cmd_banner, "probe": cmd_probe, "scan": cmd_scan, "hostile": cmd_hostile,
            "record-proxy": cmd_record_proxy, "mailstats": cmd_mailstats,
            "submission": cmd_submission, "imap": cmd_imap}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
