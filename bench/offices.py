#!/usr/bin/env python3
"""One VPS endpoint, 1000 offices: the figures a hosting provider asks for. A benchmark, never a test.

  python3 bench/offices.py --mailtun build/cli/mailtun --offices build/bench/mailtun-offices

A real `mailtun up` VPS endpoint with a peers_dir of N office files; N offices in one process
(mailtun-offices), each dialing from a loopback address of its own; an LMTP sink (mtbench/sink.py
--lmtp) behind every office. Measures, medians over --runs VPS restarts:

  * RSS of the VPS endpoint with N idle peers (VmRSS, after every office is up and --idle seconds);
  * the time from starting the VPS endpoint again until all N offices are up (the reconnect storm);
  * handshakes per CPU-second of the VPS endpoint during that storm: what one core sustains
    (mailtun runs one event loop; the offices run on the other core);
  * LMTP messages/s spread over --lmtp-peers forwards, one session each, --lmtp-messages in all.

Writes docs/benchmarks/offices.md (and offices.json) and puts that section into docs/benchmarks.md,
where bench/compare.py keeps it when it regenerates the report (mtbench/report.py). Every wait is
bounded; the processes it starts are ended by their own PIDs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import queue
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MIB = 1 << 20

sys.path.insert(0, str(ROOT / "tests" / "integration"))
from harness import free_port_range  # noqa: E402  (the tests' loopback helpers)
SECTION_BEGIN = "<!-- offices.md: written by bench/offices.py -->"
SECTION_END = "<!-- /offices.md -->"


def proc_status(pid: int, field: str) -> int:
    """A kB field of /proc/PID/status, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Process:
    """A child whose stdout lines are read by a thread into a queue."""

    def __init__(self, argv: list[str], log: Path, json_lines: bool = False):
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.log, close_fds=True)
        self.lines: queue.Queue = queue.Queue()
        self.json_lines = json_lines
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.log.write(line)
            self.log.flush()
            self.lines.put(json.loads(line) if self.json_lines else line.decode(errors="replace"))
        self.lines.put(None)

    def next_line(self, timeout: float):
        got = self.lines.get(timeout=timeout)
        if got is None:
            raise RuntimeError(f"{self.proc.args[0]} exited ({self.proc.wait()}); see {self.log.name}")
        return got

    def wait_event(self, event: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got = self.next_line(max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if got.get("event") == event:
                return got
        raise RuntimeError(f"no {event} from {self.proc.args[0]} within {timeout} s")

    def stop(self, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # this child's own PID
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


def wait_for_log(path: Path, needle: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited ({proc.returncode}) before logging {needle!r}; see {path}")
        time.sleep(0.005)
    raise RuntimeError(f"no {needle!r} in {path} within {timeout} s")


async def lmtp_session(port: int, messages: int, body: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def reply(expect: bytes) -> None:
        while True:
            line = await reader.readline()
            if not line.startswith(expect[:3]):
                raise RuntimeError(f"port {port}: got {line!r}, expected {expect!r}")
            if line[3:4] != b"-":
                return

    await reply(b"220")
    writer.write(b"LHLO bench.example\r\n")
    await reply(b"250")
    for _ in range(messages):
        writer.write(b"MAIL FROM:<bench@example.org>\r\n")
        await reply(b"250")
        writer.write(b"RCPT TO:<sink@example.org>\r\n")
        await reply(b"250")
        writer.write(b"DATA\r\n")
        await reply(b"354")
        writer.write(body + b".\r\n")
        await reply(b"250")
    writer.write(b"QUIT\r\n")
    await reply(b"221")
    writer.close()


def lmtp_rate(base: int, peers: int, messages: int, kib: int, timeout: float) -> float:
    line = b"x" * 76 + b"\r\n"
    body = b"Subject: bench\r\n\r\n" + line * max(1, kib * 1024 // len(line))
    per_peer = max(1, messages // peers)

    async def all_sessions() -> None:
        await asyncio.wait_for(asyncio.gather(*(lmtp_session(base + i, per_peer, body) for i in range(peers))),
                               timeout)

    start = time.monotonic()
    asyncio.run(all_sessions())
    return per_peer * peers / (time.monotonic() - start)


def median(values: list[float]) -> float:
    return statistics.median(values)


def run(args) -> dict:
    # The VPS endpoint holds a socket per office and a listener per forward; the offices process
    # a socket per office. Both inherit this limit (docs/operations.md: LimitNOFILE).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, min(hard, 4 * args.count + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    work = Path(tempfile.mkdtemp(prefix="mailtun-offices-"))
    base = free_port_range(args.count + 1)  # the forwards, then the VPS endpoint's own port
    vps_port = base + args.count
    subprocess.run([args.offices, "generate", "--dir", str(work), "--count", str(args.count), "--vps-port",
                    str(vps_port), "--forward-port-base", str(base)], check=True, stdout=subprocess.DEVNULL)
    sink = Process([sys.executable, str(HERE / "mtbench" / "sink.py"), "--lmtp"], work / "sink.log")
    sink_port = int(sink.next_line(10))
    vps_argv = [args.mailtun, "up", "--config", str(work / "vps.toml"), "--log-level", "info"]
    results = {"offices": args.count, "runs": args.runs, "rss_mib": [], "vmhwm_mib": [], "first_up_s": None,
               "storm_s": [], "refused": [], "handshakes_per_cpu_s": [], "lmtp_per_s": [], "lmtp_peers": args.lmtp_peers,
               "lmtp_messages": args.lmtp_messages, "lmtp_kib": args.lmtp_kib,
               "nofile": want, "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                                           "loadavg_at_start": os.getloadavg()[0]}}
    offices = None
    vps_log = work / "vps.0.log"
    vps = subprocess.Popen(vps_argv, stdin=subprocess.DEVNULL, stdout=open(vps_log, "wb"), stderr=subprocess.STDOUT)
    try:
        wait_for_log(vps_log, "interface vps up", vps, 60)
        offices = Process([args.offices, "run", "--dir", str(work), "--vps", f"127.0.0.1:{vps_port}",
                           "--sink", f"127.0.0.1:{sink_port}"], work / "offices.log", json_lines=True)
        offices.wait_event("started", 60)
        results["first_up_s"] = offices.wait_event("all_up", args.timeout)["seconds"]
        print(f"all {args.count} offices up in {results['first_up_s']:.2f} s", file=sys.stderr)
        for run_index in range(args.runs):
            time.sleep(args.idle)
            results["rss_mib"].append(proc_status(vps.pid, "VmRSS") / MIB)
            results["vmhwm_mib"].append(proc_status(vps.pid, "VmHWM") / MIB)
            results["lmtp_per_s"].append(lmtp_rate(base, min(args.lmtp_peers, args.count), args.lmtp_messages,
                                                   args.lmtp_kib, args.timeout))
            # The reconnect storm: the VPS endpoint restarts; every office redials at once.
            vps.send_signal(signal.SIGTERM)
            vps.wait(timeout=30)
            offices.wait_event("down", args.timeout)
            vps_log = work / f"vps.{run_index + 1}.log"
            started = time.monotonic()
            vps = subprocess.Popen(vps_argv, stdin=subprocess.DEVNULL, stdout=open(vps_log, "wb"),
                                   stderr=subprocess.STDOUT)
            wait_for_log(vps_log, "interface vps up", vps, 60)
            cpu_before = cpu_seconds(vps.pid)
            offices.wait_event("all_up", args.timeout)
            storm = time.monotonic() - started
            cpu = cpu_seconds(vps.pid) - cpu_before
            results["storm_s"].append(storm)
            status = json.loads(subprocess.run([args.mailtun, "status", "--socket", str(work / "vps.sock"), "--json"],
                                               check=True, capture_output=True, timeout=30).stdout)
            results["refused"].append(sum(status["rejected_handshakes"].values()))
            results["handshakes_per_cpu_s"].append(args.count / cpu if cpu > 0 else float("nan"))
            print(f"run {run_index + 1}: RSS {results['rss_mib'][-1]:.1f} MiB, LMTP {results['lmtp_per_s'][-1]:.0f} "
                  f"msg/s, all up again {storm:.2f} s after the restart, {args.count} handshakes in {cpu:.2f} "
                  f"CPU-s", file=sys.stderr)
        time.sleep(args.idle)
        results["rss_mib"].append(proc_status(vps.pid, "VmRSS") / MIB)
        results["vmhwm_mib"].append(proc_status(vps.pid, "VmHWM") / MIB)
    finally:
        if offices is not None:
            offices.stop()
        if vps.poll() is None:
            vps.send_signal(signal.SIGTERM)  # its own PID
            try:
                vps.wait(timeout=30)
            except subprocess.TimeoutExpired:
                vps.kill()
        sink.stop()
    if args.keep:
        print(f"kept {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)  # it holds 1001 private keys
    return results


def render(r: dict, command: str) -> str:
    def span(values: list[float], fmt: str) -> str:
        return f"{median(values):{fmt}} ({min(values):{fmt}}–{max(values):{fmt}})"

    n = r["offices"]
    lines = [
        SECTION_BEGIN,
        "",
        f"## One VPS endpoint, {n} offices",
        "",
        f"A real `mailtun up` with `peers_dir` holding {n} office files (a `[[peer]]` and an lmtp `[[forward]]` "
        f"each); {n} offices in one process (`bench/offices.cpp`), each a mailtun endpoint dialing from a loopback "
        f"address of its own (127.10.x.y), exposing lmtp to an LMTP sink. Medians of {r['runs']} restarts of the "
        f"VPS endpoint (min–max); {r['machine']['cpus']} CPUs, shared (load average "
        f"{r['machine']['loadavg_at_start']:.1f} at the start), kernel {r['machine']['kernel']}.",
        "",
        "| measure | target | result |",
        "| --- | --- | --- |",
        f"| RSS of the VPS endpoint, {n} idle peers up | ≤ 64 MiB | {span(r['rss_mib'], '.1f')} MiB "
        f"(peak {max(r['vmhwm_mib']):.1f}) |",
        f"| all {n} up again after the VPS endpoint restarts | ≤ 30 s | {span(r['storm_s'], '.2f')} s |",
        f"| handshakes refused during that storm (flood limiter, unfinished-handshake caps) | 0 | "
        f"{max(r['refused'])} in the worst of the restarts |",
        f"| handshakes per CPU-second of the VPS endpoint (one core) | — | {span(r['handshakes_per_cpu_s'], '.0f')} |",
        f"| LMTP messages/s, {r['lmtp_kib']} KiB each, over {r['lmtp_peers']} offices at once | — | "
        f"{span(r['lmtp_per_s'], '.0f')} |",
        "",
        f"LMTP: {r['lmtp_messages']} messages in {r['lmtp_peers']} sessions at once, one per office's forward, from "
        f"a Python client to the Python LMTP sink (`mtbench/sink.py --lmtp`); both share the two cores with the "
        f"VPS endpoint and all the offices, so the figure is a floor, and it varies with the machine's other load.",
        "",
        f"The first start, with every office dialing a VPS endpoint that was already up, took "
        f"{r['first_up_s']:.2f} s. The restart time runs from starting `mailtun up` (reading {n} files, binding "
        f"{n} forwards) until the last office is up; the offices redial with their backoff "
        f"(docs/design.md), so it is mostly waiting, not work: the handshake figure divides {n} handshakes by the "
        f"CPU time the VPS endpoint spent from its start-up line until the last one. The descriptor limit was "
        f"{r['nofile']} (docs/operations.md, \"One VPS, many offices\").",
        "",
        f"Regenerate with `{command}` (minutes; not part of CI: the CTest test `integration_offices` runs 50 "
        f"offices for the mechanics).",
        "",
        SECTION_END,
        "",
    ]
    return "\n".join(lines)


def splice(report: Path, section: str, analysis: str) -> None:
    """Puts `section` into the report in place of an earlier one, or else before the hand-written
    `analysis` (as mtbench/report.py places it), or at the end."""
    text = report.read_text() if report.exists() else ""
    if SECTION_BEGIN in text and SECTION_END in text:
        head, rest = text.split(SECTION_BEGIN, 1)
        tail = rest.split(SECTION_END, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    elif analysis and analysis in text:
        head, tail = text.rsplit(analysis, 1)
        text = head + section + "\n" + analysis + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    report.write_text(text)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mailtun", default=str(ROOT / "build/cli/mailtun"))
    p.add_argument("--offices", default=str(ROOT / "build/bench/mailtun-offices"))
    p.add_argument("--count", type=int, default=1000, help="offices")
    p.add_argument("--runs", type=int, default=3, help="restarts of the VPS endpoint")
    p.add_argument("--idle", type=float, default=5.0, help="seconds idle before RSS is read")
    p.add_argument("--lmtp-peers", type=int, default=100)
    p.add_argument("--lmtp-messages", type=int, default=2000)
    p.add_argument("--lmtp-kib", type=int, default=10)
    p.add_argument("--timeout", type=float, default=120.0, help="bound on every wait")
    p.add_argument("--keep", action="store_true", help="keep the working directory (configurations, logs)")
    p.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"),
                   help="the report: the section goes in, and into OUT-DIR/offices.md beside it")
    args = p.parse_args()
    results = run(args)
    out = Path(args.out)
    directory = out.parent / out.stem
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "offices.json").write_text(json.dumps(results, indent=1) + "\n")
    section = render(results, "python3 bench/offices.py" + (f" --count {args.count}" if args.count != 1000 else ""))
    (directory / "offices.md").write_text(section)
    analysis = directory / "analysis.md"
    splice(out, section, analysis.read_text() if analysis.exists() else "")
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
