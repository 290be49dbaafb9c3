#!/usr/bin/env python3
"""mailtun side by side with the tunnels people use today, on this machine, in one run.

    python3 bench/compare.py --mailtun build/cli/mailtun --runs 5 --out docs/benchmarks.md

starts each contestant in turn (plain TCP, a socat relay pair, mailtun, stunnel4, spiped, ssh -L
with and without a pty, wireguard-go between two network namespaces), measures bulk throughput,
CPU per GiB, connect-to-greeting latency, short connections per second and memory with streams
held open, and writes a markdown report with PNG charts beside it (docs/benchmarks/). A contestant
whose tools are missing is listed with the reason and the run goes on. bench/README.md explains
each measure; bench/run.sh installs the packages and builds mailtun first.

Exit status: 0 when the report was written; 77 when a contestant named by --require cannot run
here (the CTest smoke skips on it); 1 when one named by --require failed a run, or on any other
failure to produce the report.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mtbench import contestants as contestants_mod  # noqa: E402
from mtbench import machine, netstat, procs, report  # noqa: E402
from mtbench.rig import LOOPBACK, Rig, in_netns  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SKIP = 77
LOAD_TIMEOUT_FLOOR = 60.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    names = [c.name for c in contestants_mod.all_contestants()]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--mailtun", default=str(ROOT / "build" / "cli" / "mailtun"), help="the mailtun binary")
    p.add_argument("--baseline", help="another mailtun binary (an earlier build) to run beside --mailtun, "
                                      "as the contestant mailtun-baseline: before and after in one run")
    p.add_argument("--runs", type=int, default=5, help="runs of every measure; medians and min-max over them")
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"),
                   help="the report; charts and results.json go to a directory of the same name beside it")
    p.add_argument("--contestants", default=",".join(names), help=f"comma-separated, of: {', '.join(names)}")
    p.add_argument("--require", default="", help="contestants that must be able to run, else exit 77")
    p.add_argument("--bulk-mib", type=int, default=1024, help="MiB sent over one connection")
    p.add_argument("--rtt-ms", type=float, default=0.0, help="emulated RTT for bulk, connection rate and memory")
    p.add_argument("--greeting-rtts", default="0,20", help="emulated RTTs (ms) at which connect->greeting is measured")
    p.add_argument("--greeting-count", type=int, default=50, help="connections per connect->greeting sample")
    p.add_argument("--conn-count", type=int, default=3000, help="short connections per rate measure (at most)")
    p.add_argument("--conn-seconds", type=float, default=5, help="time bound of each rate measure")
    p.add_argument("--concurrency", type=int, default=20, help="connections at once in the concurrent rate measure")
    p.add_argument("--lmtp-messages", type=int, default=500,
                   help="messages smtp-source -L delivers in the LMTP measure (0 skips it)")
    p.add_argument("--lmtp-sessions", type=int, default=20, help="smtp-source sessions at once")
    p.add_argument("--lmtp-kib", type=int, default=10, help="message size in the LMTP measure")
    p.add_argument("--lmtp-rtt-ms", type=float, default=20.0, help="emulated RTT of the LMTP measure")
    p.add_argument("--hold", default="200,1000", help="numbers of open streams at which memory is measured")
    p.add_argument("--limit-seconds", type=int, default=3, help="seconds of each AEAD speed measure; 0 skips them")
    p.add_argument("--workdir", help="keep keys, configurations and logs here (default: a temporary directory)")
    p.add_argument("--from-json", help="only write the report again from a results.json of an earlier run")
    args = p.parse_args(argv)
    args.contestant_names = [n for n in args.contestants.split(",") if n]
    unknown = [n for n in args.contestant_names + args.require.split(",") if n and n not in names]
    if unknown:
        p.error(f"unknown contestant(s): {', '.join(unknown)}")
    args.greeting_rtt_list = [float(x) for x in args.greeting_rtts.split(",") if x]
    args.hold_list = [int(x) for x in args.hold.split(",") if x]
    return args


# ---- one measure each ---------------------------------------------------------------------------

def run_load(rig: Rig, running, measure: str, *args: str, timeout: float) -> dict:
    argv = rig.load_argv(measure, running.host, running.port, running.client_netns, *args)
    result = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{measure} failed: {result.stderr.decode(errors='replace').strip()[-600:]}")
    return json.loads(result.stdout.decode().strip().splitlines()[-1])


def measure_bulk(rig: Rig, running, own: procs.OwnCpu, mib: int) -> dict:
    others = procs.OthersCpu(own)
    loss_before = netstat.loss_counters(running.namespaces)
    before = {side: procs.tree_cpu_seconds(pids) for side, pids in running.endpoints.items()}
    result = run_load(rig, running, "bulk", "--mib", str(mib), timeout=max(LOAD_TIMEOUT_FLOOR, mib / 5))
    after = {side: procs.tree_cpu_seconds(pids) for side, pids in running.endpoints.items()}
    loss_after = netstat.loss_counters(running.namespaces)
    gib = result["bytes"] / 2**30
    cpu = {side: (after[side] - before[side]) / gib for side in before}
    return {"mbps": result["bytes"] / result["seconds"] / 1e6, "seconds": result["seconds"],
            "cpu_s_per_gib": cpu, "others_cores": others.cores(),
            **{k: loss_after[k] - loss_before[k] for k in loss_before}}


def measure_connrate(rig: Rig, running, args, concurrency: int) -> dict:
    result = run_load(rig, running, "connrate", "--count", str(args.conn_count), "--seconds", str(args.conn_seconds),
                      "--concurrency", str(concurrency), timeout=args.conn_seconds + LOAD_TIMEOUT_FLOOR)
    return {"per_s": result["done"] / result["seconds"] if result["seconds"] > 0 else 0.0,
            "done": result["done"], "errors": result["errors"]}


def measure_greeting(rig: Rig, running, count: int) -> dict:
    result = run_load(rig, running, "greeting", "--count", str(count), timeout=LOAD_TIMEOUT_FLOOR + count)
    samples = sorted(result["ms"])
    return {"median_ms": samples[len(samples) // 2], "samples": len(samples)}


def measure_lmtp(running, args) -> dict:
    """Postfix's smtp-source delivering --lmtp-messages messages over LMTP, --lmtp-sessions at a
    time, one message per connection as Postfix's LMTP client does, to the sink speaking LMTP."""
    if shutil.which("smtp-source") is None:
        raise RuntimeError("smtp-source not installed (Debian package postfix)")
    argv = in_netns(running.client_netns, [
        "smtp-source", "-L", "-s", str(args.lmtp_sessions), "-m", str(args.lmtp_messages),
        "-l", str(args.lmtp_kib * 1024), "-f", "bench@example.org", "-t", "sink@example.org",
        f"{running.host}:{running.port}"])
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, timeout=LOAD_TIMEOUT_FLOOR + args.lmtp_messages / 5, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"smtp-source failed: {result.stderr.decode(errors='replace').strip()[-400:]}")
    return {"per_s": args.lmtp_messages / seconds, "seconds": seconds}


def endpoint_memory(running) -> dict:
    return {side: vars(procs.tree_memory(pids)) for side, pids in running.endpoints.items()}


def measure_hold(rig: Rig, running, count: int, seconds: float) -> dict:
    """Memory of each endpoint while `count` greeted streams are held open through it."""
    argv = rig.load_argv("hold", running.host, running.port, running.client_netns, "--count", str(count),
                         "--seconds", str(seconds))
    proc = rig.started.popen(argv, stdout=subprocess.PIPE, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        opened = json.loads(procs.first_line(proc, seconds + 30, "hold client"))
        memory = endpoint_memory(running)
        proc.stdin.close()
        proc.wait(timeout=LOAD_TIMEOUT_FLOOR)
    finally:
        rig.started.stop(proc)
    if opened["opened"] < count:
        raise RuntimeError(f"only {opened['opened']} of {count} streams opened in {seconds:.0f} s")
    return {"memory": memory, "open_seconds": opened["seconds"]}


def one_run(c, rig: Rig, args, own: procs.OwnCpu) -> dict:
    """Every measure of one contestant, once. A measure that fails is named in "failures" and the
    others still run; only a contestant that cannot start fails the whole run."""
    result: dict = {"memory": {}, "connrate": {}, "greeting": {}, "failures": []}

    def attempt(what: str, measure) -> None:
        try:
            measure()
        except Exception as e:  # noqa: BLE001 - reported, and the next measure runs
            result["failures"].append(f"{what}: {type(e).__name__}: {e}"[:400])
            print(f"*** {c.label}: {result['failures'][-1]}", file=sys.stderr, flush=True)

    def store(table: dict, key: str, measure):
        return lambda: table.__setitem__(key, measure())

    running = c.start_or_clean_up(rig, args.rtt_ms)
    try:
        attempt("memory idle", store(result["memory"], "idle", lambda: endpoint_memory(running)))
        attempt("bulk", store(result, "bulk", lambda: measure_bulk(rig, running, own, args.bulk_mib)))
        for concurrency in (1, args.concurrency):
            attempt(f"connections ({concurrency} at once)",
                    store(result["connrate"], str(concurrency), lambda n=concurrency: measure_connrate(rig, running, args, n)))
        if args.rtt_ms in args.greeting_rtt_list:
            attempt("greeting", store(result["greeting"], report.rtt_key(args.rtt_ms),
                                      lambda: measure_greeting(rig, running, args.greeting_count)))
        for count in args.hold_list:
            attempt(f"{count} open streams", store(result["memory"], str(count),
                                                   lambda n=count: measure_hold(rig, running, n, 120)["memory"]))
    finally:
        c.stop(rig, running)
    if args.lmtp_messages > 0:
        rig.lmtp_sink = True
        try:
            running = c.start_or_clean_up(rig, args.lmtp_rtt_ms)
        finally:
            rig.lmtp_sink = False
        try:
            attempt(f"LMTP at RTT {args.lmtp_rtt_ms:g} ms", store(result, "lmtp", lambda: measure_lmtp(running, args)))
        finally:
            c.stop(rig, running)
    for rtt in args.greeting_rtt_list:
        if rtt == args.rtt_ms:
            continue
        running = c.start_or_clean_up(rig, rtt)
        try:
            attempt(f"greeting at RTT {rtt:g} ms", store(result["greeting"], report.rtt_key(rtt),
                                                        lambda: measure_greeting(rig, running, args.greeting_count)))
        finally:
            c.stop(rig, running)
    return result


# ---- the relay, calibrated alone ----------------------------------------------------------------

def calibrate_relay(rig: Rig, rtt_ms: float, count: int = 50) -> dict:
    """Round trips of one byte through the relay to an echo server on an open connection: what
    the relay really adds, beside the RTT it was asked for."""
    listener = socket.create_server((LOOPBACK, 0))
    port = listener.getsockname()[1]

    def echo() -> None:
        listener.settimeout(30)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(30)
            for _ in range(count + 1):
                data = conn.recv(1)
                if not data:
                    return
                conn.sendall(data)

    server = threading.Thread(target=echo, daemon=True)
    server.start()
    relay_port = rig.start_relay(rtt_ms, LOOPBACK, port)
    samples = []
    try:
        with socket.create_connection((LOOPBACK, relay_port), timeout=30) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(b"x")
            s.recv(1)  # the first one also waits for the relay's emulated handshake
            for _ in range(count):
                start = time.perf_counter()
                s.sendall(b"x")
                if s.recv(1) != b"x":
                    raise RuntimeError("echo through the relay broke")
                samples.append((time.perf_counter() - start) * 1000)
    finally:
        rig.stop_helpers()
        listener.close()
        server.join(5)
    samples.sort()
    return {"nominal_ms": rtt_ms, "median_ms": samples[len(samples) // 2], "min_ms": samples[0], "max_ms": samples[-1]}


# ---- the whole run ------------------------------------------------------------------------------

def run(args) -> dict:
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="mailtun-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = procs.Started()
    own = procs.OwnCpu(started)
    whole = procs.OthersCpu(own)
    mailtun = str(Path(args.mailtun).resolve())
    chosen = [c for c in contestants_mod.all_contestants() if c.name in args.contestant_names]
    if args.baseline:
        chosen.insert(chosen.index(next(c for c in chosen if c.name == "mailtun")) + 1 if any(
            c.name == "mailtun" for c in chosen) else 0, contestants_mod.MailtunBaseline())
    results: dict = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python3", "bench/compare.py", *sys.argv[1:]]),
        "params": {k: getattr(args, k) for k in ("runs", "bulk_mib", "rtt_ms", "greeting_rtt_list", "greeting_count",
                                                 "conn_count", "conn_seconds", "concurrency", "hold_list",
                                                 "lmtp_messages", "lmtp_sessions", "lmtp_kib", "lmtp_rtt_ms")},
        "machine": machine.describe(), "versions": machine.versions(mailtun),
        "contestants": {}, "relay": [], "limits": {},
    }
    rigs = {}
    required = [n for n in args.require.split(",") if n]
    try:
        for c in chosen:
            binary = str(Path(args.baseline).resolve()) if c.name == "mailtun-baseline" else mailtun
            rigs[c.name] = Rig(workdir / c.name, started, binary)
            rigs[c.name].workdir.mkdir(exist_ok=True)
            reason = c.missing(rigs[c.name])
            results["contestants"][c.name] = {"label": c.label, "kind": c.kind, "skipped": reason, "runs": []}
            if reason:
                print(f"*** {c.label}: cannot run here: {reason}", file=sys.stderr, flush=True)
                if c.name in required:
                    print(f"*** SKIPPED: {c.name} is required (--require) but {reason}", file=sys.stderr)
                    raise SystemExit(SKIP)
        if args.limit_seconds > 0:
            print("machine limits: AEAD speed", file=sys.stderr, flush=True)
            results["limits"] = {"openssl_chacha_mbps": machine.openssl_chacha_mbps(args.limit_seconds),
                                 "sodium_chacha_mbps": machine.sodium_chacha_mbps(mailtun, workdir, args.limit_seconds)}
        calibration_rig = Rig(workdir / "relay", started)
        calibration_rig.workdir.mkdir(exist_ok=True)
        lmtp_rtts = [args.lmtp_rtt_ms] if args.lmtp_messages > 0 else []
        for rtt in sorted({r for r in args.greeting_rtt_list + [args.rtt_ms] + lmtp_rtts if r > 0}):
            results["relay"].append(calibrate_relay(calibration_rig, rtt))
        runnable = [c for c in chosen if not results["contestants"][c.name]["skipped"]]
        for i in range(args.runs):
            # Each run starts with another contestant, so a slow drift of the machine spreads evenly.
            order = runnable[i % len(runnable):] + runnable[:i % len(runnable)] if runnable else []
            for c in order:
                print(f"run {i + 1}/{args.runs}: {c.label}", file=sys.stderr, flush=True)
                entry = results["contestants"][c.name]
                try:
                    outcome = one_run(c, rigs[c.name], args, own)
                    entry["runs"].append(outcome)
                    entry.setdefault("failures", []).extend(outcome.pop("failures"))
                except Exception as e:  # noqa: BLE001 - one contestant's failure is reported, the rest go on
                    message = f"{type(e).__name__}: {e}"
                    print(f"*** {c.label} failed in run {i + 1}: {message}", file=sys.stderr, flush=True)
                    entry.setdefault("failures", []).append(message[:400])
    finally:
        started.stop_all()
        results["others"] = {"cpu_seconds": whole.seconds(), "cores": whole.cores()}
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def stop_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through every finally: processes stopped, namespaces deleted


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    args = parse_args(argv)
    out = Path(args.out)
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
    else:
        results = run(args)
    report.write(results, out)
    print(f"wrote {out}", file=sys.stderr)
    broken = [n for n in args.require.split(",") if n and (results["contestants"].get(n, {}).get("failures")
                                                           or not results["contestants"].get(n, {}).get("runs"))]
    if broken and not args.from_json:
        print(f"*** required contestant(s) failed: {', '.join(broken)} (see the report)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
