"""The report: docs/benchmarks.md from the results of one run, with PNG charts (matplotlib, when
installed) and the raw results.json in a directory of the same name beside it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional

from . import stats

DEFAULTS = {"runs": 5, "bulk_mib": 1024, "conn_count": 3000, "hold_list": [200, 1000]}
MIB = 2**20
# Other processes' average use of the machine above which the report warns that it was disturbed.
DISTURBED_CORES = 0.25


# ---- picking values out of the runs -------------------------------------------------------------

def values(entry: dict, pick: Callable[[dict], Optional[float]]) -> list[float]:
    out = []
    for run in entry.get("runs", []):
        try:
            v = pick(run)
        except (KeyError, TypeError):
            v = None
        if v is not None:
            out.append(v)
    return out


def summaries(results: dict, pick: Callable[[dict], Optional[float]]) -> dict[str, dict]:
    """contestant -> summary over its runs, for those that have the value."""
    out = {}
    for name, entry in results["contestants"].items():
        s = stats.summary(values(entry, pick))
        if s is not None:
            out[name] = s
    return out


def best_peer(results: dict, summ: dict[str, dict], higher_is_better: bool) -> Optional[tuple[str, float]]:
    peers = {n: s["median"] for n, s in summ.items() if results["contestants"][n]["kind"] == "peer"}
    return stats.best(peers, higher_is_better)


# ---- formatting ---------------------------------------------------------------------------------

def fmt(value: Optional[float], digits: int = 1) -> str:
    if value is None:
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}".replace(",", " ")
    return f"{value:.{digits}f}"


def fmt_ratio(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.2f}×"


def range_of(s: dict, digits: int = 1) -> str:
    return f"{fmt(s['min'], digits)}–{fmt(s['max'], digits)}" if s["n"] > 1 else "(1 run)"


def label(results: dict, name: str) -> str:
    text = results["contestants"][name]["label"]
    return f"**{text}**" if results["contestants"][name]["kind"] == "mailtun" else text


def measure_table(results: dict, columns: list[tuple]) -> list[str]:
    """One row per contestant: for each column its median, min–max and ratio vs the best peer.
    A column is (title, pick, higher_is_better, digits[, with_ratio]); higher_is_better None: no ratio."""
    header = ["contestant"]
    align = ["---"]
    prepared = []
    for title, pick, higher, digits in columns:
        summ = summaries(results, pick)
        ref = best_peer(results, summ, higher) if higher is not None else None
        prepared.append((summ, ref, digits, higher is not None))
        header += [title, "min–max"]
        align += ["---:", "---:"]
        if higher is not None:
            header.append(f"× best peer ({ref[0]})" if ref else "× best peer (none ran)")
            align.append("---:")
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    for name in results["contestants"]:
        if not any(name in summ for summ, _, _, _ in prepared):
            continue
        row = [label(results, name)]
        for summ, ref, digits, with_ratio in prepared:
            s = summ.get(name)
            if s is None:
                row += ["–"] * (3 if with_ratio else 2)
                continue
            row += [fmt(s["median"], digits), range_of(s, digits)]
            if with_ratio:
                row.append(fmt_ratio(stats.ratio(s["median"], ref[1] if ref else None)))
        lines.append("| " + " | ".join(row) + " |")
    return lines


# ---- charts -------------------------------------------------------------------------------------

def charts(results: dict, directory: Path) -> dict[str, str]:
    """name -> file name of each chart drawn. Without matplotlib in this Python (a virtualenv or
    pyenv one), Debian's /usr/bin/python3 with python3-matplotlib draws them; else none."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: F401
    except ImportError:
        return charts_in_system_python(directory)
    return draw(results, directory)


def charts_in_system_python(directory: Path) -> dict[str, str]:
    system = Path("/usr/bin/python3")
    if not system.exists() or Path(sys.executable).resolve() == system.resolve():
        print("*** no charts: matplotlib is not installed (apt-get install python3-matplotlib)", file=sys.stderr)
        return {}
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); from mtbench import report; from pathlib import Path; "
            "d = Path(sys.argv[2]); print(json.dumps(report.charts(json.loads((d / 'results.json').read_text()), d)))")
    result = subprocess.run([str(system), "-c", code, str(Path(__file__).resolve().parent.parent), str(directory)],
                            capture_output=True, timeout=300, check=False)
    if result.returncode != 0:
        print(f"*** no charts: {system} could not draw them: {result.stderr.decode(errors='replace')[-300:]}",
              file=sys.stderr)
        return {}
    return json.loads(result.stdout.decode().strip().splitlines()[-1])


def draw(results: dict, directory: Path) -> dict[str, str]:
    import matplotlib.pyplot as plt
    drawn = {}

    def bars(file: str, title: str, unit: str, series: list[tuple[str, Callable[[dict], Optional[float]]]]) -> None:
        names = [n for n in results["contestants"] if any(summaries(results, p).get(n) for _, p in series)]
        if not names:
            return
        fig, ax = plt.subplots(figsize=(9, 0.5 + 0.45 * len(names) * max(1, len(series)) ** 0.7))
        height = 0.8 / len(series)
        for k, (series_label, pick) in enumerate(series):
            summ = summaries(results, pick)
            ys = [i + (k - (len(series) - 1) / 2) * height for i in range(len(names))]
            med = [summ[n]["median"] if n in summ else 0 for n in names]
            lo = [summ[n]["median"] - summ[n]["min"] if n in summ else 0 for n in names]
            hi = [summ[n]["max"] - summ[n]["median"] if n in summ else 0 for n in names]
            colors = None
            if len(series) == 1:
                palette = {"mailtun": "#c0392b", "reference": "#e8a39b", "floor": "#95a5a6"}
                colors = [palette.get(results["contestants"][n]["kind"], "#2c7fb8") for n in names]
            ax.barh(ys, med, height=height, xerr=[lo, hi], capsize=3, label=series_label if len(series) > 1 else None,
                    color=colors)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels([results["contestants"][n]["label"] for n in names])
        for tick, n in zip(ax.get_yticklabels(), names):
            if results["contestants"][n]["kind"] == "mailtun":
                tick.set_fontweight("bold")
        ax.invert_yaxis()
        ax.set_xlabel(unit)
        ax.set_title(title)
        if len(series) > 1:
            ax.legend(loc="best", fontsize="small")
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        fig.savefig(directory / file, dpi=100)
        plt.close(fig)
        drawn[file.removesuffix(".png")] = file

    p = results["params"]
    bars("bulk.png", f"Bulk, {p['bulk_mib']} MiB over one connection (median, min–max)", "MB/s",
         [("bulk", lambda r: r["bulk"]["mbps"])])
    bars("cpu.png", "CPU seconds per GiB carried, per endpoint", "CPU s / GiB",
         [("sender (entry)", lambda r: r["bulk"]["cpu_s_per_gib"]["a"]),
          ("receiver (exit)", lambda r: r["bulk"]["cpu_s_per_gib"]["b"])])
    bars("greeting.png", "Connect → first byte of the greeting", "ms",
         [(f"RTT {rtt:g} ms", lambda r, rtt=rtt: r["greeting"][rtt_key(rtt)]["median_ms"]) for rtt in p["greeting_rtt_list"]])
    bars("connrate.png", "Short connections per second", "connections/s",
         [("one at a time", lambda r: r["connrate"]["1"]["per_s"]),
          (f"{p['concurrency']} at once", lambda r: r["connrate"][str(p["concurrency"])]["per_s"])])
    bars("memory.png", "Private memory of both endpoints together", "MiB",
         [(state if state == "idle" else f"{state} open streams", lambda r, s=state: both(r, s, "private") / MIB)
          for state in ["idle"] + [str(n) for n in p["hold_list"]]])
    return drawn


def rtt_key(rtt: float) -> str:
    """How results.json names an RTT: 0, 20, 2.5."""
    return f"{rtt:g}"


def both(run: dict, state: str, kind: str) -> Optional[float]:
    sides = run["memory"][state]
    return sum(side[kind] for side in sides.values()) if sides else None


def side_memory(run: dict, state: str, side: str, kind: str) -> Optional[float]:
    value = run["memory"][state].get(side)
    return value[kind] / MIB if value else None


# ---- the document -------------------------------------------------------------------------------

ANALYSIS = "analysis.md"
OFFICES = "offices.md"


def is_reduced(params: dict) -> bool:
    return any(params.get(k) != v for k, v in DEFAULTS.items())


def write(results: dict, out: Path) -> None:
    directory = out.parent / out.stem
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    drawn = charts(results, directory)
    text = render(results, out.stem, drawn)
    # What no run measures by itself (the profile, what changed and why) is written by hand beside
    # the charts and kept when the report is regenerated.
    # The many-offices figures come from a run of their own (bench/offices.py), kept likewise.
    for kept in (OFFICES, ANALYSIS):
        if (directory / kept).exists():
            text += "\n" + (directory / kept).read_text()
    out.write_text(text)


def render(results: dict, chart_dir: str, drawn: dict[str, str]) -> str:
    p, m = results["params"], results["machine"]
    lines = ["# Benchmarks: mailtun beside the tunnels in use today", ""]
    if is_reduced(p):
        lines += [f"> **A reduced run, for the format only**: {p['runs']} run(s), bulk {p['bulk_mib']} MiB, "
                  f"{p['conn_count']} short connections at most, {', '.join(map(str, p['hold_list'])) or 'no'} held "
                  f"streams. The published numbers come from the full command below (5 runs, 1 GiB, 200 and 1000 "
                  f"streams) on a quiet machine; regenerate before quoting any of these.", ""]
    if results["others"]["cores"] > DISTURBED_CORES:
        lines += [f"> **A disturbed run**: other processes used {results['others']['cores']:.2f} of the machine's "
                  f"{m['cores']} cores on average while it ran, and the contestants competed with them for CPU.", ""]
    lines += [
        "Every contestant runs on this one machine, on loopback, side by side in one run, each configured as its",
        "users would: `client → endpoint a → [delay relay] → endpoint b → sink`. The sink greets each connection",
        "with a `220` line at once, like a mail server, and acknowledges bulk data only once all of it arrived.",
        "Medians over the runs, with min–max; ratios are against the best *peer* (the encrypting tunnels other",
        "than mailtun, named in the column's title by its short name from the table of contestants); plain TCP and",
        "the socat pair are floors, not peers. [bench/README.md](../bench/README.md) explains each measure.",
        "",
        "Regenerate (installs the Debian packages, builds mailtun, runs everything; root for the namespaces):",
        "",
        "```sh",
        "bash bench/run.sh            # = python3 bench/compare.py --mailtun build/cli/mailtun --runs 5 --out docs/benchmarks.md",
        "```",
        "",
        f"This report: `{results['command']}`, {results['date']}.",
        "",
        "## The machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {m['cpu']} |",
        f"| cores | {m['cores']} |",
        f"| memory | {m['memory_gib']} GiB |",
        f"| kernel | {m['kernel']} |",
        f"| system | {m['os']} |",
        f"| CPU used by other processes during the run | {results['others']['cores']:.2f} cores on average "
        f"({results['others']['cpu_seconds']:.0f} CPU-s; the machine's busy time less this run's own processes) |",
        "",
    ]
    lines += ["## Contestants", "", "| contestant | short name | version | ran |", "|---|---|---|---|"]
    versions = results.get("versions", {})
    tool_of = {"plain": "", "socat": "socat", "mailtun": "mailtun", "stunnel": "stunnel4", "spiped": "spiped",
               "ssh": "ssh", "ssh-pty": "ssh", "wireguard-go": "wireguard-go"}
    for name, entry in results["contestants"].items():
        if entry["skipped"]:
            status = f"no: {entry['skipped']}"
        else:
            status = f"{len(entry['runs'])} of {p['runs']} runs"
            if entry.get("failures"):
                status += "; failed: " + "; ".join(sorted(set(entry["failures"])))[:300]
        version = versions.get(tool_of.get(name, ""), "")
        lines.append(f"| {label(results, name)} | `{name}` | {version.replace('|', '/')} | {status.replace('|', '/')} |")
    lines.append("")

    if results["relay"]:
        lines += ["## The delay relay, calibrated alone", "",
                  "One byte echoed over an open connection through the relay (50 round trips). A new connection",
                  "through it is passed on 1.5 RTT after it was accepted, as a real server sees it after the handshake.",
                  "", "| nominal RTT (ms) | measured median (ms) | min–max |", "|---:|---:|---:|"]
        for c in results["relay"]:
            lines.append(f"| {c['nominal_ms']:g} | {c['median_ms']:.2f} | {c['min_ms']:.2f}–{c['max_ms']:.2f} |")
        lines.append("")

    def chart(name: str) -> list[str]:
        return [f"![{name}]({chart_dir}/{drawn[name]})", ""] if name in drawn else []

    rtt_note = f" at an emulated RTT of {p['rtt_ms']:g} ms" if p["rtt_ms"] else " (RTT 0)"
    lines += [f"## Bulk: {p['bulk_mib']} MiB over one connection{rtt_note}", ""]
    lines += measure_table(results, [("MB/s", lambda r: r["bulk"]["mbps"], True, 0),
                                     ("others' CPU (cores)", lambda r: r["bulk"]["others_cores"], None, 2),
                                     ("TCP retransmits", lambda r: r["bulk"].get("tcp_retransmits"), None, 0),
                                     ("UDP drops", lambda r: r["bulk"].get("udp_drops"), None, 0)])
    lines += ["", "MB/s are 10^6 bytes per second, from the first byte sent to the sink's acknowledgement of the last.",
              "“Others' CPU” is what processes outside this run used meanwhile: high values mean a disturbed sample.",
              "TCP segments retransmitted and UDP datagrams dropped for a full receive buffer (`/proc/net/snmp`)",
              "during the transfer, in the namespaces its packets cross: loss inside a tunnel, not CPU, limits it",
              "when these are high. On loopback they count the whole host's traffic.", ""]
    lines += chart("bulk")

    lines += ["## CPU seconds per GiB carried", "",
              "User plus system time of each endpoint's processes during the bulk transfer, per GiB; a is the",
              "sender (entry), b the receiver (exit). Plain TCP has no endpoints.", ""]
    lines += measure_table(results, [
        ("both ends", lambda r: r["bulk"]["cpu_s_per_gib"]["a"] + r["bulk"]["cpu_s_per_gib"]["b"], False, 2),
        ("sender", lambda r: r["bulk"]["cpu_s_per_gib"]["a"], False, 2),
        ("receiver", lambda r: r["bulk"]["cpu_s_per_gib"]["b"], False, 2)])
    lines.append("")
    lines += chart("cpu")

    lines += ["## Connect → first byte of the greeting", "",
              f"A new client connection until the first byte of the sink's `220` line, median of {p['greeting_count']} "
              "connections per run; at RTT 20 ms a direct TCP connection needs two round trips (handshake, greeting).",
              ""]
    lines += measure_table(results, [(f"RTT {rtt:g} ms (ms)", lambda r, rtt=rtt: r["greeting"][rtt_key(rtt)]["median_ms"],
                                      False, 2) for rtt in p["greeting_rtt_list"]])
    lines.append("")
    lines += chart("greeting")

    if p.get("lmtp_messages"):
        lines += [f"## LMTP: messages per second at an emulated RTT of {p['lmtp_rtt_ms']:g} ms", "",
                  f"Postfix's `smtp-source -L` delivers {p['lmtp_messages']} messages of {p['lmtp_kib']} KiB, "
                  f"{p['lmtp_sessions']} sessions at a time, one message per connection as Postfix's LMTP client",
                  "does, to the sink speaking LMTP: connect, greeting, LHLO, MAIL, RCPT, DATA, the message, QUIT —",
                  "seven round trips for a direct connection, six through a tunnel that is already up.", ""]
        lines += measure_table(results, [("msg/s", lambda r: r["lmtp"]["per_s"], True, 0)])
        lines.append("")

    lines += ["## Short connections per second" + rtt_note, "",
              f"Connect, read the greeting, close; at most {p['conn_count']} connections or {p['conn_seconds']:g} s per "
              "measure, whichever comes first.", ""]
    lines += measure_table(results, [("one at a time (/s)", lambda r: r["connrate"]["1"]["per_s"], True, 0),
                                     (f"{p['concurrency']} at once (/s)",
                                      lambda r: r["connrate"][str(p["concurrency"])]["per_s"], True, 0)])
    lines.append("")
    failed = []
    for name, entry in results["contestants"].items():
        errors = sum(m.get("errors", 0) for r in entry.get("runs", []) for m in r.get("connrate", {}).values())
        if errors:
            failed.append(f"{results['contestants'][name]['label']} {errors}")
    if failed:
        lines += ["Connections that failed (not counted in the rates), over all runs: " + ", ".join(failed) + ".", ""]
    lines += chart("connrate")

    states = ["idle"] + [str(n) for n in p["hold_list"]]
    lines += ["## Memory", "",
              "Private memory (Private_Clean + Private_Dirty of /proc/PID/smaps_rollup: what an endpoint adds to a",
              "host whose other programs already map the same shared libraries) and RSS, in MiB, summed over each",
              "endpoint's processes (socat and sshd fork per connection), idle and with streams held open.", ""]
    for kind, title in (("private", "Private memory, both endpoints together (MiB)"), ("rss", "RSS, both endpoints together (MiB)")):
        lines += [f"### {title}", ""]
        lines += measure_table(results, [(state if state == "idle" else f"{state} streams",
                                          lambda r, s=state, k=kind: both(r, s, k) / MIB, False, 1) for state in states])
        lines.append("")
    lines += ["### Per endpoint, private memory (MiB, median): a (entry) / b (exit)", "",
              "| contestant | " + " | ".join(states) + " |", "|---|" + "---:|" * len(states)]
    for name, entry in results["contestants"].items():
        if not values(entry, lambda r: side_memory(r, "idle", "a", "private")):
            continue  # plain TCP: no endpoints
        cells = []
        for state in states:
            a = stats.summary(values(entry, lambda r, s=state: side_memory(r, s, "a", "private")))
            b = stats.summary(values(entry, lambda r, s=state: side_memory(r, s, "b", "private")))
            cells.append(f"{fmt(a['median'] if a else None)} / {fmt(b['median'] if b else None)}")
        lines.append(f"| {label(results, name)} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += chart("memory")

    limits = results.get("limits", {})
    plain = summaries(results, lambda r: r["bulk"]["mbps"]).get("plain")
    lines += ["## The machine's limits", "", "| limit | MB/s | CPU-s per GiB at that rate |", "|---|---:|---:|"]
    for title, value in (("loopback TCP, one connection (plain TCP above)", plain["median"] if plain else None),
                         ("OpenSSL ChaCha20-Poly1305, one core, 16 KiB buffers", limits.get("openssl_chacha_mbps")),
                         ("libsodium ChaCha20-Poly1305 (IETF), one core, 16 KiB buffers", limits.get("sodium_chacha_mbps"))):
        per_gib = 2**30 / (value * 1e6) if value else None
        lines.append(f"| {title} | {fmt(value, 0)} | {fmt(per_gib, 2)} |")
    lines += ["", "The AEAD rows are `openssl speed -evp chacha20-poly1305` (its 16384-byte column) and",
              "`bench/sodium_aead_speed.cpp`; sealing alone, without the copies and system calls of a tunnel.", ""]
    return "\n".join(lines)
