"""The machine the run happened on, and its limits: what a tunnel on it could at best reach."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent


def _output(argv: list[str], timeout: float = 30) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (result.stdout + result.stderr).decode(errors="replace")


def describe() -> dict:
    model = ""
    for line in _output(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    os_name = ""
    if Path("/etc/os-release").exists():
        m = re.search(r'^PRETTY_NAME="?([^"\n]*)', Path("/etc/os-release").read_text(), re.MULTILINE)
        os_name = m.group(1) if m else ""
    mem_kib = 0
    m = re.search(r"^MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(), re.MULTILINE)
    if m:
        mem_kib = int(m.group(1))
    return {"cpu": model or platform.processor(), "cores": os.cpu_count(), "kernel": platform.release(),
            "os": os_name, "memory_gib": round(mem_kib / 2**20, 1)}


def versions(mailtun: Optional[str]) -> dict:
    """One line per tool, as each prints it."""
    probes = {
        "mailtun": [mailtun, "--version"] if mailtun else None,
        "socat": ["socat", "-V"],
        "stunnel4": ["stunnel4", "-version"],
        "spiped": ["spiped", "-v"],
        "ssh": ["ssh", "-V"],
        "wireguard-go": ["wireguard-go", "--version"],
        "openssl": ["openssl", "version"],
        "python3": ["python3", "--version"],
    }
    found = {}
    for name, argv in probes.items():
        if argv is None or shutil.which(argv[0]) is None and not os.access(argv[0], os.X_OK):
            continue
        text = _output(argv, timeout=10)
        line = next((ln.strip() for ln in text.splitlines() if re.search(r"\d+\.\d+", ln)), "")
        if line:
            found[name] = line[:100]
    return found


def openssl_chacha_mbps(seconds: int) -> Optional[float]:
    """Single-core ChaCha20-Poly1305 of `openssl speed`, its 16384-byte column, in MB/s (10^6)."""
    if shutil.which("openssl") is None:
        return None
    text = _output(["openssl", "speed", "-seconds", str(seconds), "-bytes", "16384", "-evp", "chacha20-poly1305"],
                   timeout=seconds * 4 + 30)
    return parse_openssl_speed(text, "chacha20-poly1305")


def parse_openssl_speed(text: str, algorithm: str) -> Optional[float]:
    """MB/s (10^6) from the last column of `openssl speed`'s row for `algorithm`, which it prints in
    1000s of bytes per second with a "k" suffix; None without such a row."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].lower() == algorithm.lower() and fields[-1].endswith("k"):
            try:
                return float(fields[-1][:-1]) * 1000 / 1e6
            except ValueError:
                return None
    return None


def sodium_speed_binary(mailtun: Optional[str], workdir: Path) -> Optional[str]:
    """The project's build of bench/sodium_aead_speed.cpp beside mailtun, else one compiled here."""
    if mailtun:
        built = Path(mailtun).resolve().parent.parent / "bench" / "sodium-aead-speed"
        if built.is_file() and os.access(built, os.X_OK):
            return str(built)
    compiler = shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        return None
    target = workdir / "sodium-aead-speed"
    result = subprocess.run([compiler, "-O2", "-std=c++20", "-o", str(target),
                             str(HERE.parent / "sodium_aead_speed.cpp"), "-lsodium"],
                            capture_output=True, timeout=120, check=False)
    return str(target) if result.returncode == 0 else None


def sodium_chacha_mbps(mailtun: Optional[str], workdir: Path, seconds: int) -> Optional[float]:
    binary = sodium_speed_binary(mailtun, workdir)
    if binary is None:
        return None
    text = _output([binary, str(seconds)], timeout=seconds * 4 + 30).strip()
    try:
        return float(text.splitlines()[-1])
    except (ValueError, IndexError):
        return None
