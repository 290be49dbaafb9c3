"""Processes the benchmark starts, and what they cost: CPU time from /proc/<pid>/stat, memory from
/proc/<pid>/smaps_rollup, the machine's busy time from /proc/stat.

Only processes started here are ever signalled, each by its own PID. An endpoint's cost is that of
its process tree (the process and its live descendants): socat forks a process per connection and
sshd one per login, and a host pays for all of them.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.02


def _raise_fd_limit() -> None:
    """Runs in the child before exec: 1000 held streams need more descriptors than the usual 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Started:
    """Every process this run started and has not yet reaped; `stop_all` ends them by PID."""

    def __init__(self) -> None:
        self._procs: dict[int, subprocess.Popen] = {}

    def popen(self, argv: list[str], log: Optional[Path] = None, **kwargs) -> subprocess.Popen:
        out = open(log, "ab") if log is not None else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(argv, stdout=kwargs.pop("stdout", out), stderr=kwargs.pop("stderr", out),
                                    stdin=kwargs.pop("stdin", subprocess.DEVNULL), close_fds=True,
                                    preexec_fn=_raise_fd_limit, **kwargs)
        finally:
            if log is not None:
                out.close()
        self._procs[proc.pid] = proc
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> Optional[int]:
        """SIGTERM, then SIGKILL after `timeout`; this process's own PID only."""
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
            except ProcessLookupError:
                pass
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass  # a pipe the child closed first (stdin, EPIPE)
        self._procs.pop(proc.pid, None)
        return proc.returncode

    def stop_all(self) -> None:
        for proc in list(self._procs.values())[::-1]:
            self.stop(proc)

    def stop_started_since(self, earlier: set[int]) -> None:
        """Stops what was started after `earlier` (a set of live_pids()), newest first."""
        for pid in [pid for pid in self._procs if pid not in earlier][::-1]:
            self.stop(self._procs[pid])

    def live_pids(self) -> list[int]:
        return [pid for pid, proc in self._procs.items() if proc.poll() is None]


def run_checked(argv: list[str], timeout: float = 60, **kwargs) -> str:
    """A short command's stdout; RuntimeError with its stderr when it fails."""
    result = subprocess.run(argv, capture_output=True, timeout=timeout, check=False, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: "
                           f"{result.stderr.decode(errors='replace').strip()[-500:]}")
    return result.stdout.decode(errors="replace")


# ---- /proc readers ------------------------------------------------------------------------------

def _stat_fields(pid: int) -> Optional[list[str]]:
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces), or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text[text.rfind(")") + 2:].split()


def cpu_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime: the process and the children it has reaped."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0
    # After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    return sum(int(fields[i]) for i in (11, 12, 13, 14))


def children_map() -> dict[int, list[int]]:
    """parent PID -> child PIDs, for every process visible now."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def process_tree(root: int, tree: Optional[dict[int, list[int]]] = None) -> list[int]:
    """`root` and its live descendants (bounded by the number of processes)."""
    tree = tree if tree is not None else children_map()
    found, todo = [], [root]
    for _ in range(sum(len(v) for v in tree.values()) + 1):
        if not todo:
            break
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def tree_cpu_seconds(roots: list[int]) -> float:
    tree = children_map()
    ticks = sum(cpu_ticks(pid) for root in roots for pid in process_tree(root, tree))
    return ticks / CLOCK_TICKS


@dataclass
class Memory:
    rss: int = 0      # bytes resident, shared pages included
    private: int = 0  # Private_Clean + Private_Dirty: what this process alone adds to the host

    def __add__(self, other: "Memory") -> "Memory":
        return Memory(self.rss + other.rss, self.private + other.private)


def memory_of(pid: int) -> Memory:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return Memory()
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            values[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return Memory(values.get("Rss", 0), values.get("Private_Clean", 0) + values.get("Private_Dirty", 0))


def tree_memory(roots: list[int]) -> Memory:
    tree = children_map()
    total = Memory()
    for root in roots:
        for pid in process_tree(root, tree):
            total = total + memory_of(pid)
    return total


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), from the first line of /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


class OwnCpu:
    """CPU seconds used by this program and everything it started, so that the rest of the machine's
    busy time can be told apart: this process, the children it reaped (os.times), and the live
    trees of the children it has not reaped yet."""

    def __init__(self, started: Started):
        self.started = started

    def seconds(self) -> float:
        t = os.times()
        reaped = t.user + t.system + t.children_user + t.children_system
        return reaped + tree_cpu_seconds(self.started.live_pids())


class OthersCpu:
    """Busy CPU seconds of processes not started here, between `start()` and `seconds()`."""

    def __init__(self, own: OwnCpu):
        self.own = own
        self.start()

    def start(self) -> None:
        self._busy0 = machine_busy_seconds()
        self._own0 = self.own.seconds()
        self._t0 = time.monotonic()

    def seconds(self) -> float:
        return max(0.0, (machine_busy_seconds() - self._busy0) - (self.own.seconds() - self._own0))

    def cores(self) -> float:
        """The same as an average number of busy cores over the interval."""
        elapsed = time.monotonic() - self._t0
        return self.seconds() / elapsed if elapsed > 0 else 0.0


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Polls `condition` until it holds, bounded in time and in count."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / POLL_INTERVAL) + 2):
        if condition():
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL)
    if not condition():
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def first_line(proc: subprocess.Popen, timeout: float, what: str) -> str:
    """The first line a child prints on its stdout pipe (how helpers announce their port), bounded in time."""
    import selectors
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        for _ in range(10_000):
            if b"\n" in buffer:
                return buffer.split(b"\n", 1)[0].decode()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if not sel.select(remaining):
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"{what} exited ({proc.wait(timeout=5)}) before announcing itself")
            buffer += chunk
    raise TimeoutError(f"{what} said nothing within {timeout:.0f} s")
