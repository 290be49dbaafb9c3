"""Tests of the benchmark harness itself (bench/compare.py and bench/mtbench/): that what it
reports is what happened. None of them judges a contestant's speed.

Run: cd bench && python3 -m unittest -v test_mtbench   (CTest: bench_harness)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compare  # noqa: E402
from mtbench import contestants, load, machine, netstat, procs, report, stats  # noqa: E402
from mtbench.rig import LOOPBACK, Rig  # noqa: E402

TIMEOUT = 30.0


class StatsTest(unittest.TestCase):
    def test_summary_is_median_and_range_of_the_values_present(self):
        self.assertEqual(stats.summary([3.0, None, 1.0, 2.0]), {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3})
        self.assertIsNone(stats.summary([None]))

    def test_best_follows_the_direction_of_the_measure(self):
        medians = {"stunnel": 500.0, "ssh": 400.0}
        self.assertEqual(stats.best(medians, higher_is_better=True), ("stunnel", 500.0))
        self.assertEqual(stats.best(medians, higher_is_better=False), ("ssh", 400.0))

    def test_ratio_without_a_reference_is_none(self):
        self.assertIsNone(stats.ratio(1.0, None))
        self.assertAlmostEqual(stats.ratio(600.0, 500.0), 1.2)


class OpensslSpeedTest(unittest.TestCase):
    SAMPLE = ("version: 3.0.19\nThe 'numbers' are in 1000s of bytes per second processed.\n"
              "type          16384 bytes\nChaCha20-Poly1305  1460092.09k\n")

    def test_reads_the_16384_byte_column_in_megabytes_per_second(self):
        self.assertAlmostEqual(machine.parse_openssl_speed(self.SAMPLE, "chacha20-poly1305"), 1460.09209)

    def test_no_row_for_the_algorithm_is_none(self):
        self.assertIsNone(machine.parse_openssl_speed("type 16384 bytes\nAES-128-GCM 10.00k\n", "chacha20-poly1305"))


class SnmpTest(unittest.TestCase):
    SAMPLE = ("Ip: Forwarding DefaultTTL\nIp: 1 64\n"
              "Tcp: RtoAlgorithm RtoMin RetransSegs InErrs\nTcp: 1 200 7939 0\n"
              "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 38929 0 7083 56155 7083 0\n")

    def test_reads_retransmits_and_receive_buffer_drops(self):
        counters = netstat.parse_snmp(self.SAMPLE)
        self.assertEqual((counters["Tcp.RetransSegs"], counters["Udp.RcvbufErrors"]), (7939, 7083))

    def test_this_namespace_has_the_counters(self):
        self.assertEqual(set(netstat.loss_counters([None])), {"tcp_retransmits", "udp_drops"})


def synthetic_results(runs: int = 2) -> dict:
    """Results as compare.run() returns them, with numbers chosen so that every ratio is known."""
    def run(mbps: float, cpu: float, greet: float, rate: float, private: int) -> dict:
        side = {"rss": 4 * private, "private": private}
        memory = {"idle": {"a": side, "b": side}, "200": {"a": side, "b": side}}
        return {"bulk": {"mbps": mbps, "seconds": 1.0, "cpu_s_per_gib": {"a": cpu, "b": cpu}, "others_cores": 0.0},
                "connrate": {"1": {"per_s": rate}, "20": {"per_s": rate}},
                "greeting": {"0": {"median_ms": greet}, "20": {"median_ms": greet + 20}}, "memory": memory}

    def plain(mbps: float) -> dict:
        r = run(mbps, 0, 0.3, 2000, 0)
        r["bulk"]["cpu_s_per_gib"] = {}
        r["memory"] = {"idle": {}, "200": {}}
        return r

    mib = 2**20
    return {
        "date": "2026-01-01 00:00 UTC", "command": "python3 bench/compare.py --runs 2",
        "params": {"runs": runs, "bulk_mib": 1024, "rtt_ms": 0.0, "greeting_rtt_list": [0.0, 20.0],
                   "greeting_count": 50, "conn_count": 3000, "conn_seconds": 5, "concurrency": 20,
                   "hold_list": [200]},
        "machine": {"cpu": "Test CPU", "cores": 2, "kernel": "6.1", "os": "Debian", "memory_gib": 4.0},
        "versions": {}, "relay": [], "limits": {"openssl_chacha_mbps": 2000.0, "sodium_chacha_mbps": None},
        "others": {"cpu_seconds": 0.0, "cores": 0.0},
        "contestants": {
            "plain": {"label": "plain TCP", "kind": "floor", "skipped": None, "runs": [plain(2000), plain(2000)]},
            "mailtun": {"label": "mailtun", "kind": "mailtun", "skipped": None,
                        "runs": [run(590, 1.0, 0.5, 900, mib), run(610, 1.0, 0.5, 900, mib)]},
            "stunnel": {"label": "stunnel4", "kind": "peer", "skipped": None,
                        "runs": [run(500, 1.25, 2.0, 100, 2 * mib), run(500, 1.25, 2.0, 100, 2 * mib)]},
            "ssh": {"label": "ssh -L", "kind": "peer", "skipped": None,
                    "runs": [run(400, 2.0, 1.0, 450, 4 * mib), run(400, 2.0, 1.0, 450, 4 * mib)]},
            "spiped": {"label": "spiped", "kind": "peer", "skipped": "not installed: spiped", "runs": []},
        },
    }


def row(text: str, contestant_label: str, section: str) -> list[str]:
    """The cells of `contestant_label`'s row in the first table after the heading `section`."""
    after = text[text.index(section):]
    for line in after.splitlines():
        if line.startswith("| ") and line.split("|")[1].strip().strip("*") == contestant_label:
            return [c.strip() for c in line.strip().strip("|").split("|")]
    raise AssertionError(f"no row for {contestant_label} under {section}")


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.text = report.render(synthetic_results(), "benchmarks", {})

    def test_ratios_are_against_the_best_peer_never_a_floor(self):
        # mailtun's median 600 MB/s over stunnel's 500: plain TCP's 2000 is a floor, not a peer.
        self.assertIn("× best peer (stunnel)", self.text)
        self.assertEqual(row(self.text, "mailtun", "## Bulk")[1:4], ["600", "590–610", "1.20×"])
        self.assertEqual(row(self.text, "ssh -L", "## Bulk")[3], "0.80×")

    def test_lower_is_better_measures_pick_the_lowest_peer(self):
        cells = row(self.text, "mailtun", "## CPU seconds per GiB")
        self.assertEqual(cells[1], "2.00")   # both ends: 1.0 + 1.0
        self.assertEqual(cells[3], "0.80×")  # against stunnel's 2.5
        self.assertEqual(row(self.text, "mailtun", "### Private memory")[3], "0.50×")  # 2 MiB vs stunnel's 4

    def test_a_skipped_contestant_is_listed_with_its_reason(self):
        self.assertIn("| spiped | `spiped` |  | no: not installed: spiped |", self.text)

    def test_a_reduced_run_says_so(self):
        self.assertIn("A reduced run, for the format only", self.text)
        params = synthetic_results(runs=5)["params"]
        params["hold_list"] = [200, 1000]
        self.assertFalse(report.is_reduced(params))

    def test_write_keeps_the_results_beside_the_report(self):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "bench.md"
            report.write(synthetic_results(), out)
            self.assertEqual(json.loads((Path(d) / "bench" / "results.json").read_text())["machine"]["cpu"], "Test CPU")
            for name in ("bulk", "cpu", "greeting", "connrate", "memory"):
                chart = Path(d) / "bench" / f"{name}.png"
                # A chart is linked exactly when it was drawn (matplotlib may be missing here).
                self.assertEqual(f"](bench/{name}.png)" in out.read_text(), chart.exists(), name)

    def test_the_hand_written_analysis_beside_the_charts_survives_a_rewrite(self):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "bench.md"
            (Path(d) / "bench").mkdir()
            (Path(d) / "bench" / report.ANALYSIS).write_text("## Where the time goes\n\nBy hand.\n")
            report.write(synthetic_results(), out)
            text = out.read_text()
            self.assertIn("## Bulk", text)
            self.assertTrue(text.endswith("## Where the time goes\n\nBy hand.\n"))

    def test_a_baseline_build_is_a_reference_never_the_best_peer(self):
        results = synthetic_results()
        results["contestants"]["mailtun-baseline"] = {
            "label": "mailtun (baseline build)", "kind": "reference", "skipped": None,
            "runs": results["contestants"]["plain"]["runs"]}
        text = report.render(results, "benchmarks", {})
        self.assertIn("× best peer (stunnel)", text)
        self.assertEqual(row(text, "mailtun", "## Bulk")[3], "1.20×")


class RigTestCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.started = procs.Started()
        self.rig = Rig(Path(self.dir.name), self.started)

    def tearDown(self):
        self.started.stop_all()
        self.dir.cleanup()


class DelayRelayTest(RigTestCase):
    RTT_MS = 40.0

    def test_a_round_trip_on_an_open_connection_takes_the_rtt(self):
        calibration = compare.calibrate_relay(self.rig, self.RTT_MS, count=5)
        self.assertGreaterEqual(calibration["min_ms"], self.RTT_MS * 0.98)

    def test_a_new_connection_gets_its_greeting_after_two_round_trips(self):
        port = self.rig.start_relay(self.RTT_MS, LOOPBACK, self.rig.start_sink())
        ms = load.greeting(LOOPBACK, port, 1)["ms"][0]
        self.assertGreaterEqual(ms, 2 * self.RTT_MS * 0.98)  # handshake, then the greeting

    def test_bulk_data_arrives_whole_through_it(self):
        port = self.rig.start_relay(self.RTT_MS, LOOPBACK, self.rig.start_sink())
        self.assertEqual(load.bulk(LOOPBACK, port, 8)["bytes"], 8 * 2**20)  # bulk() checks the sink's count

    def test_datagrams_are_delayed_both_ways(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as echo, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            echo.bind((LOOPBACK, 0))
            echo.settimeout(TIMEOUT)
            client.settimeout(TIMEOUT)
            port = self.rig.start_relay(self.RTT_MS, LOOPBACK, echo.getsockname()[1], udp=True)
            start = time.monotonic()
            client.sendto(b"ping", (LOOPBACK, port))
            data, addr = echo.recvfrom(100)
            echo.sendto(data, addr)
            self.assertEqual(client.recvfrom(100)[0], b"ping")
            self.assertGreaterEqual((time.monotonic() - start) * 1000, self.RTT_MS * 0.98)


class LmtpSinkTest(RigTestCase):
    def converse(self, port: int, lines: list[bytes], replies: int) -> list[bytes]:
        with socket.create_connection((LOOPBACK, port), timeout=10) as s:
            f = s.makefile("rb")
            got = [f.readline()]
            s.sendall(b"".join(lines))
            while len(got) < replies:
                got.append(f.readline())
            return got

    def test_one_reply_per_command_and_one_per_recipient_after_the_message(self):
        self.rig.lmtp_sink = True
        port = self.rig.start_sink()
        got = self.converse(port, [b"LHLO bench\r\n", b"MAIL FROM:<a@example.org>\r\n",
                                   b"RCPT TO:<b@example.org>\r\n", b"RCPT TO:<c@example.org>\r\n", b"DATA\r\n",
                                   b"Subject: x\r\n\r\nbody\r\n.\r\n", b"QUIT\r\n"], 11)
        codes = [line[:4] for line in got]
        self.assertEqual(codes, [b"220 ", b"250-", b"250-", b"250 ", b"250 ", b"250 ", b"250 ", b"354 ", b"250 ",
                                 b"250 ", b"221 "])

    @unittest.skipIf(shutil.which("smtp-source") is None, "SKIPPED: smtp-source (postfix) not installed")
    def test_smtp_source_delivers_every_message_to_it(self):
        self.rig.lmtp_sink = True
        running = contestants.Running(LOOPBACK, self.rig.start_sink(), {})
        args = compare.parse_args(["--lmtp-messages", "20", "--lmtp-sessions", "4", "--lmtp-kib", "2"])
        result = compare.measure_lmtp(running, args)
        self.assertGreater(result["per_s"], 0)


class LoadTest(RigTestCase):
    def test_concurrent_short_connections_stop_at_the_count(self):
        port = self.rig.start_sink()
        result = load.connrate(LOOPBACK, port, count=150, seconds=TIMEOUT, concurrency=20)
        self.assertEqual((result["done"], result["errors"]), (150, 0))

    def test_a_refused_connection_counts_as_an_error(self):
        port = self.rig.start_sink()
        self.started.stop_all()
        result = load.connrate(LOOPBACK, port, count=5, seconds=TIMEOUT, concurrency=2)
        self.assertEqual((result["done"], result["errors"]), (0, 5))


class ProcsTest(RigTestCase):
    def test_a_process_tree_counts_the_grandchildren(self):
        # sh, and a python3 it forks (not execs: a command follows), which burns 0.3 s of CPU and announces itself.
        burn = "import time, sys\nwhile time.process_time() < 0.3: pass\nprint('ready', flush=True)\nsys.stdin.read()"
        proc = self.started.popen(["sh", "-c", f'exec 3<&0; "{sys.executable}" -c "$0" <&3; exit $?', burn],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.assertEqual(procs.first_line(proc, TIMEOUT, "burner"), "ready")
        self.assertGreaterEqual(len(procs.process_tree(proc.pid)), 2)
        self.assertGreaterEqual(procs.tree_cpu_seconds([proc.pid]), 0.25)
        self.assertGreater(procs.tree_memory([proc.pid]).private, 0)
        proc.stdin.close()
        self.assertEqual(proc.wait(timeout=TIMEOUT), 0)


class StartFailureTest(RigTestCase):
    def test_a_contestant_that_fails_to_start_leaves_nothing_running(self):
        class Broken(contestants.Contestant):
            name = "broken"

            def start(self, rig, rtt_ms):
                running = contestants.Running(LOOPBACK, rig.start_sink(), {})
                self.procs.append(self.launch(rig, running, "a", "sleeper", ["sleep", "60"]))
                raise RuntimeError("cannot start")

        broken = Broken()
        broken.procs = []
        with self.assertRaises(RuntimeError):
            broken.start_or_clean_up(self.rig, 0, attempts=2)
        self.assertEqual(len(broken.procs), 2)  # tried twice
        self.assertTrue(all(p.poll() is not None for p in broken.procs))
        self.assertEqual(self.started.live_pids(), [])  # the sinks too


class OneRunTest(RigTestCase):
    def test_a_failing_measure_is_named_and_the_others_still_run(self):
        args = compare.parse_args(["--contestants", "plain", "--bulk-mib", "1", "--conn-count", "5",
                                   "--greeting-rtts", "0", "--greeting-count", "2", "--hold", "3"])

        def broken_bulk(*_args, **_kwargs):
            raise RuntimeError("no bulk today")

        original, compare.measure_bulk = compare.measure_bulk, broken_bulk
        try:
            result = compare.one_run(contestants.PlainTcp(), self.rig, args, procs.OwnCpu(self.started))
        finally:
            compare.measure_bulk = original
        self.assertEqual(result["failures"], ["bulk: RuntimeError: no bulk today"])
        self.assertNotIn("bulk", result)
        self.assertEqual(result["connrate"]["20"]["done"], 5)
        self.assertEqual(result["greeting"]["0"]["samples"], 2)
        self.assertEqual(set(result["memory"]), {"idle", "3"})


class CompareTest(unittest.TestCase):
    def compare(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(HERE / "compare.py"), *args], capture_output=True,
                              timeout=120, check=False, env=env)

    def test_a_required_contestant_that_cannot_run_skips_with_77(self):
        with tempfile.TemporaryDirectory() as d:
            result = self.compare("--mailtun", "/nonexistent/mailtun", "--contestants", "plain,mailtun",
                                  "--require", "mailtun", "--out", f"{d}/b.md")
            self.assertEqual(result.returncode, 77, result.stderr)
            self.assertIn(b"SKIPPED: mailtun", result.stderr)

    def test_a_contestant_whose_tools_are_missing_is_reported_and_the_run_goes_on(self):
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, PATH=d)  # nothing installed: socat cannot run, plain TCP can
            result = self.compare("--contestants", "plain,socat", "--runs", "1", "--bulk-mib", "1",
                                  "--conn-count", "10", "--hold", "5", "--greeting-rtts", "0", "--greeting-count", "2",
                                  "--limit-seconds", "0", "--out", f"{d}/b.md", env=env)
            self.assertEqual(result.returncode, 0, result.stderr)
            text = Path(f"{d}/b.md").read_text()
            self.assertIn("no: not installed: socat", text)
            # Its LMTP measure needs smtp-source, which is missing too: named, and the rest ran.
            self.assertIn("| plain TCP (no tunnel) | `plain` |  | 1 of 1 runs; failed: LMTP at RTT 20 ms: "
                          "RuntimeError: smtp-source not installed (Debian package postfix) |", text)
            self.assertNotEqual(row(text, "plain TCP (no tunnel)", "## Bulk")[1], "–", "bulk still ran")


if __name__ == "__main__":
    unittest.main()
