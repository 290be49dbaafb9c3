"""The contestants: mailtun and the tunnels people use today, each configured as its users would
configure it, all on this machine. Each starts a pair of endpoints around the rig's sink:

    client -> endpoint a (entry, the sender in bulk) -> [delay relay] -> endpoint b (exit) -> sink

and says where the client connects and which processes are its endpoints. "plain" (the client
straight to the sink) and "socat" (a relay pair without crypto) are the floors, not peers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from . import procs
from .rig import LOOPBACK, Rig, free_port, in_netns, wait_listening

READY_TIMEOUT = 20.0


@dataclass
class Running:
    """A started contestant: where clients connect, and its endpoints' process trees."""
    host: str
    port: int
    endpoints: dict[str, list[int]]  # "a" (entry) and "b" (exit) -> root PIDs; empty for plain TCP
    client_netns: Optional[str] = None
    namespaces: list[Optional[str]] = field(default_factory=lambda: [None])  # where its packets travel
    stop_extra: list[Callable[[], None]] = field(default_factory=list)
    procs: list[subprocess.Popen] = field(default_factory=list)
    logs: dict[int, Path] = field(default_factory=dict)  # PID -> where its output goes


class Contestant:
    name = ""          # short key, used on the command line
    label = ""         # how the report names it
    kind = "peer"      # "floor", "peer", "mailtun" or "reference" (another mailtun build)
    tools: list[str] = []

    def missing(self, rig: Rig) -> Optional[str]:
        """Why it cannot run here, or None."""
        absent = [t for t in self.tools if shutil.which(t) is None]
        return f"not installed: {', '.join(absent)}" if absent else None

    def start(self, rig: Rig, rtt_ms: float) -> Running:
        raise NotImplementedError

    def start_or_clean_up(self, rig: Rig, rtt_ms: float, attempts: int = 2) -> Running:
        """start(); if it fails, stops whatever it had started, and tries once more with fresh
        ports (another program may have taken one that free_port() found free) before raising."""
        for attempt in range(1, attempts + 1):
            earlier = set(rig.started.live_pids())
            try:
                return self.start(rig, rtt_ms)
            except Exception as e:
                rig.started.stop_started_since(earlier)
                rig.helpers.clear()
                if attempt == attempts:
                    raise
                print(f"*** {self.label}: could not start ({e}); once more", file=sys.stderr, flush=True)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def stop(self, rig: Rig, running: Running) -> None:
        for proc in running.procs[::-1]:
            rig.started.stop(proc)
        rig.stop_helpers()  # before the namespaces they may run in are deleted
        for undo in running.stop_extra[::-1]:
            undo()

    def launch(self, rig: Rig, running: Running, side: str, name: str, argv: list[str], **kwargs) -> subprocess.Popen:
        proc = rig.started.popen(argv, log=rig.log(f"{self.name}-{name}"), **kwargs)
        running.procs.append(proc)
        running.logs[proc.pid] = rig.log(f"{self.name}-{name}")
        running.endpoints.setdefault(side, []).append(proc.pid)
        return proc


def wait_ready(rig: Rig, running: Running, what: str, timeout: float = READY_TIMEOUT) -> None:
    """Until a client through the contestant gets the sink's greeting: the only sign of readiness
    that means the same for every contestant. Each attempt is bounded; so is their number."""
    deadline = time.monotonic() + timeout
    last = ""
    for _ in range(int(timeout / 0.05) + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        argv = rig.load_argv("greeting", running.host, running.port, running.client_netns, "--count", "1",
                             "--timeout", str(max(1.0, min(5.0, remaining))))
        result = subprocess.run(argv, capture_output=True, timeout=remaining + 10, check=False)
        if result.returncode == 0:
            return
        last = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        last = last[0]
        for proc in running.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{what}: {proc.args[0]} exited with {proc.returncode}: {log_tail(running, proc)}")
        time.sleep(0.05)
    raise TimeoutError(f"{what}: no greeting through it within {timeout:.0f} s ({last})")


def log_tail(running: Running, proc: subprocess.Popen, lines: int = 3) -> str:
    """The last lines a process wrote: the reason it exited, kept in the report after its work
    directory is gone."""
    path = running.logs.get(proc.pid)
    if path is None or not path.exists():
        return "(no output)"
    tail = path.read_text(errors="replace").strip().splitlines()[-lines:]
    return " / ".join(tail) or "(no output)"


def write_private(path: Path, text: str | bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(text.encode() if isinstance(text, str) else text)
    return path


# ---- the floors ---------------------------------------------------------------------------------

class PlainTcp(Contestant):
    name, label, kind = "plain", "plain TCP (no tunnel)", "floor"

    def start(self, rig: Rig, rtt_ms: float) -> Running:
        sink = rig.start_sink()
        running = Running(LOOPBACK, rig.via(rtt_ms, sink), {})
        wait_ready(rig, running, self.label)
        return running


class SocatPair(Contestant):
    name, label, kind = "socat", "socat relay pair (no crypto)", "floor"
    tools = ["socat"]

    @staticmethod
    def argv(listen: int, target: int) -> list[str]:
        return ["socat", f"TCP-LISTEN:{listen},bind={LOOPBACK},reuseaddr,fork,backlog=4096", f"TCP:{LOOPBACK}:{target}"]

    def start(self, rig: Rig, rtt_ms: float) -> Running:
        sink = rig.start_sink()
        running = Running(LOOPBACK, free_port(), {})
        far = free_port()
        self.launch(rig, running, "b", "b", self.argv(far, sink))
        self.launch(rig, running, "a", "a", self.argv(running.port, rig.via(rtt_ms, far)))
        wait_ready(rig, running, self.label)
        return running


# ---- mailtun ------------------------------------------------------------------------------------

class Mailtun(Contestant):
    """Two `mailtun up`: the vps (entry) listens and forwards; the office (exit) dials it and
    exposes the sink, as docs/configuration.md's pair does, with a preshared key."""
    name, label, kind = "mailtun", "mailtun", "mailtun"

    def missing(self, rig: Rig) -> Optional[str]:
        if not rig.mailtun or not os.access(rig.mailtun, os.X_OK):
            return f"no mailtun binary (--mailtun {rig.mailtun})"
        return None

    def keys(self, rig: Rig, name: str) -> tuple[Path, str]:
        private = procs.run_checked([rig.mailtun, "genkey"]).encode()
        path = write_private(rig.workdir / f"mailtun-{name}.key", private)
        public = subprocess.run([rig.mailtun, "pubkey"], input=private, capture_output=True, timeout=30,
                                check=True).stdout.decode().strip()
        return path, public

    def start(self, rig: Rig, rtt_ms: float) -> Running:
        sink = rig.start_sink()
        vps_key, vps_pub = self.keys(rig, "vps")
        office_key, office_pub = self.keys(rig, "office")
        psk = write_private(rig.workdir / "mailtun-office.psk", procs.run_checked([rig.mailtun, "genpsk"]))
        running = Running(LOOPBACK, free_port(), {})
        tunnel = free_port()
        vps = f"""[interface]
name = "vps"
private_key_file = "{vps_key}"
listen = "{LOOPBACK}:{tunnel}"
control_socket = "{rig.workdir}/mailtun-vps.sock"

[[peer]]
name = "office"
public_key = "{office_pub}"
preshared_key_file = "{psk}"

[[forward]]
service = "bench"
protocol = "tcp"
listen = "{LOOPBACK}:{running.port}"
peer = "office"
"""
        vps_conf = write_private(rig.workdir / "mailtun-vps.toml", vps)
        self.launch(rig, running, "a", "vps", [rig.mailtun, "up", "--config", str(vps_conf)])
        dial = rig.via(rtt_ms, tunnel)
        office = f"""[interface]
name = "office"
private_key_file = "{office_key}"
control_socket = "{rig.workdir}/mailtun-office.sock"

[[peer]]
name = "vps"
public_key = "{vps_pub}"
preshared_key_file = "{psk}"
endpoint = "{LOOPBACK}:{dial}"

[[expose]]
service = "bench"
protocol = "tcp"
target = "{LOOPBACK}:{sink}"
peers = ["vps"]
allow_any_port = true
"""
        office_conf = write_private(rig.workdir / "mailtun-office.toml", office)
        self.launch(rig, running, "b", "office", [rig.mailtun, "up", "--config", str(office_conf)])
        wait_ready(rig, running, self.label)
        return running


class MailtunBaseline(Mailtun):
    """Another mailtun binary (`compare.py --baseline`), configured the same: a change's before and
    after, measured side by side in one run. A reference, not a peer."""
    name, label, kind = "mailtun-baseline", "mailtun (baseline build)", "reference"


# ---- the peers ----------------------------------------------------------------------------------

class Stunnel(Contestant):
    """stunnel4, TLS 1.3 only, each side verifying the other's self-signed certificate."""
    name, label = "stunnel", "stunnel4 (TLS 1.3, mutual certificates)"
    tools = ["stunnel4", "openssl"]

    def certificate(self, rig: Rig, who: str) -> tuple[Path, Path]:
        cert, key = rig.workdir / f"stunnel-{who}.crt", rig.workdir / f"stunnel-{who}.key"
        if not cert.exists():
            procs.run_checked(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                               "-nodes", "-days", "30", "-subj", f"/CN={who}", "-keyout", str(key), "-out", str(cert)])
            os.chmod(key, 0o600)
        return cert, key

    def config(self, rig: Rig, who: str, peer: str, accept: int, connect: int, client: bool) -> Path:
        cert, key = self.certificate(rig, who)
        peer_cert, _ = self.certificate(rig, peer)
        text = f"""foreground = yes
pid =
[bench]
client = {"yes" if client else "no"}
accept = {LOOPBACK}:{accept}
connect = {LOOPBACK}:{connect}
cert = {cert}
key = {key}
CAfile = {peer_cert}
verifyPeer = yes
sslVersionMin = TLSv1.3
"""
        return write_private(rig.workdir / f"stunnel-{who}.conf", text)

    def start(self, rig: Rig, rtt_ms: float) -> Running:
        sink = rig.start_sink()
        running = Running(LOOPBACK, free_port(), {})
        far = free_port()
        self.launch(rig, running, "b", "server", ["stunnel4", str(self.config(rig, "server", "client", far, sink, False))])
        near = self.config(rig, "client", "server", running.port, rig.via(rtt_ms, far), True)
        self.launch(rig, running, "a", "client", ["stunnel4", str(near)])
        wait_ready(rig, running, self.label)
        return running


class Spiped(Contestant):
    """spiped with a 32-byte key file from dd; -n 0 lifts its default limit of 100 connections,
    which the 1000 held streams would hit."""
    name, label = "spiped", "spiped"
    tools = ["spiped"]

    def start(self, rig: Rig, rtt_ms: float) -> Running:
        sink = rig.start_sink()
        key = rig.workdir / "spiped.key"
        if not key.exists():
            procs.run_checked(["dd", "if=/dev/urandom", f"of={key}", "bs=32", "count=1"])
            os.chmod(key, 0o600)
        running = Running(LOOPBACK, free_port(), {})
        far = free_port()
        common = ["-F", "-n", "0", "-k", str(key)]
        self.launch(rig, running, "b", "decrypt",
                    ["spiped", "-d", "-s", f"[{LOOPBACK}]:{far}", "-t", f"[{LOOPBACK}]:{sink}", *common])
        self.launch(rig, running, "a", "encrypt",
                    ["spiped", "-e", "-s", f"[{LOOPBACK}]:{running.port}", "-t",
                     f"[{LOOPBACK}]:{rig.via(rtt_ms, far)}", *common])
        wait_ready(rig, running, self.label)
        return running


class SshForward(Contestant):
    """`ssh -L` to an sshd of its own on a high port, with its own host key and an authorized key;
    with -N (no session) or -tt (a login shell on a pty, as an interactive user has)."""
    tools = ["ssh", "ssh-keygen"]

    def __init__(self, pty: bool):
        self.pty = pty
        self.name = "ssh-pty" if pty else "ssh"
        self.label = "ssh -L (pty, -tt)" if pty else "ssh -L (-N)"

    def missing(self, rig: Rig) -> Optional[str]:
        return super().missing(rig) or (None if Path("/usr/sbin/sshd").exists() else "not installed: /usr/sbin/sshd")

    def keys(self, rig: Rig) -> Path:
        d = rig.workdir / "ssh"
        if not d.exists():
            d.mkdir(mode=0o700)
            for name in ("host_key", "client_key"):
                procs.run_checked(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)])
            (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
        return d

    def start(self, rig: Rig, rtt_ms: float) -> Running:
        sink = rig.start_sink()
        d = self.keys(rig)
        far = free_port()
        # Debian's sshd refuses to start without its privilege separation directory.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        sshd_config = write_private(d / "sshd_config", f"""Port {far}
ListenAddress {LOOPBACK}
HostKey {d / 'host_key'}
AuthorizedKeysFile {d / 'authorized_keys'}
PidFile none
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding yes
LogLevel ERROR
""")
        running = Running(LOOPBACK, free_port(), {})
        self.launch(rig, running, "b", "sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", str(sshd_config)])
        wait_listening(far, READY_TIMEOUT, f"sshd on port {far}")
        known_hosts = d / "known_hosts"
        host_pub = (d / "host_key.pub").read_text().split()
        port = rig.via(rtt_ms, far)
        known_hosts.write_text(f"[{LOOPBACK}]:{port} {host_pub[0]} {host_pub[1]}\n")
        user = os.environ.get("USER") or __import__("pwd").getpwuid(os.getuid()).pw_name
        argv = ["ssh", "-F", "/dev/null", "-i", str(d / "client_key"), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
                "-o", "ExitOnForwardFailure=yes", "-p", str(port),
                "-L", f"{LOOPBACK}:{running.port}:{LOOPBACK}:{sink}", f"{user}@{LOOPBACK}"]
        argv[1:1] = ["-tt"] if self.pty else ["-N"]
        # With a pty the login shell waits on stdin: a pipe kept open until the end.
        self.launch(rig, running, "a", "client", argv, stdin=subprocess.PIPE if self.pty else subprocess.DEVNULL)
        wait_ready(rig, running, self.label)
        return running


class WireguardGo(Contestant):
    """wireguard-go between two network namespaces joined by a veth pair; the client runs in one,
    the sink in the other, and a UDP delay relay (when there is a delay) in the client's."""
    name, label = "wireguard-go", "wireguard-go (network namespaces)"
    tools = ["wireguard-go", "wg", "ip"]

    def missing(self, rig: Rig) -> Optional[str]:
        reason = super().missing(rig)
        if reason:
            return reason
        if os.geteuid() != 0:
            return "needs root (network namespaces and a TUN device)"
        if not os.path.exists("/dev/net/tun"):
            return "no /dev/net/tun"
        return None

    def start(self, rig: Rig, rtt_ms: float) -> Running:
        tag = f"{os.getpid() % 100000}"
        ns_a, ns_b = f"mtbench-a{tag}", f"mtbench-b{tag}"
        running = Running("10.99.1.2", 0, {}, client_netns=ns_a, namespaces=[ns_a, ns_b])
        created: list[str] = []

        def undo() -> None:
            for ns in created:
                subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30, check=False)

        running.stop_extra.append(undo)
        try:
            for ns in (ns_a, ns_b):
                procs.run_checked(["ip", "netns", "add", ns])
                created.append(ns)
                procs.run_checked(["ip", "-n", ns, "link", "set", "lo", "up"])
            procs.run_checked(["ip", "link", "add", f"mtbva{tag}", "netns", ns_a, "type", "veth",
                               "peer", "name", f"mtbvb{tag}", "netns", ns_b])
            for ns, dev, addr in ((ns_a, f"mtbva{tag}", "10.99.0.1/24"), (ns_b, f"mtbvb{tag}", "10.99.0.2/24")):
                procs.run_checked(["ip", "-n", ns, "addr", "add", addr, "dev", dev])
                procs.run_checked(["ip", "-n", ns, "link", "set", dev, "up"])
            keys = {}
            for side in ("a", "b"):
                private = procs.run_checked(["wg", "genkey"])
                public = subprocess.run(["wg", "pubkey"], input=private.encode(), capture_output=True,
                                        timeout=30, check=True).stdout.decode().strip()
                keys[side] = (write_private(rig.workdir / f"wg-{side}.key", private), public)
            sink = rig.start_sink("0.0.0.0", netns=ns_b)
            running.port = sink
            endpoint_b = "10.99.0.2:51820"
            if rtt_ms > 0:
                endpoint_b = f"{LOOPBACK}:{rig.start_relay(rtt_ms, '10.99.0.2', 51820, udp=True, netns=ns_a)}"
            for side, ns, own, peer, peer_endpoint in (("b", ns_b, "10.99.1.2/24", "10.99.1.1/32", None),
                                                      ("a", ns_a, "10.99.1.1/24", "10.99.1.2/32", endpoint_b)):
                dev = f"wg{side}{tag}"
                self.launch(rig, running, side, side, in_netns(ns, ["wireguard-go", "-f", dev]))
                procs.wait_for(lambda: subprocess.run(["ip", "-n", ns, "link", "show", dev], capture_output=True,
                                                      timeout=10, check=False).returncode == 0, 10, f"{dev} in {ns}")
                other = "a" if side == "b" else "b"
                wg = ["ip", "netns", "exec", ns, "wg", "set", dev, "private-key", str(keys[side][0]),
                      "listen-port", "51820", "peer", keys[other][1], "allowed-ips", peer]
                procs.run_checked(wg + (["endpoint", peer_endpoint] if peer_endpoint else []))
                procs.run_checked(["ip", "-n", ns, "addr", "add", own, "dev", dev])
                procs.run_checked(["ip", "-n", ns, "link", "set", dev, "up"])
            wait_ready(rig, running, self.label)
        except BaseException:
            self.stop(rig, running)
            raise
        return running


def all_contestants() -> list[Contestant]:
    return [PlainTcp(), SocatPair(), Mailtun(), Stunnel(), Spiped(), SshForward(pty=False), SshForward(pty=True),
            WireguardGo()]
