"""Loss counters of a network namespace (/proc/net/snmp): TCP segments retransmitted and UDP
datagrams dropped because a socket's receive buffer was full. A tunnel that drops packets makes
the TCP inside it retransmit; these show when that, not CPU, is what limits a contestant."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from . import procs
from .rig import in_netns


def parse_snmp(text: str) -> dict[str, int]:
    """{"Tcp.RetransSegs": n, "Udp.RcvbufErrors": n, ...} from /proc/net/snmp's pairs of lines:
    one of field names, then one of values, each starting with the same "Proto:"."""
    counters: dict[str, int] = {}
    lines = text.splitlines()
    for names, numbers in zip(lines[::2], lines[1::2]):
        proto, *fields = names.split()
        proto_again, *values = numbers.split()
        if proto != proto_again:
            continue
        for field, value in zip(fields, values):
            try:
                counters[f"{proto.rstrip(':')}.{field}"] = int(value)
            except ValueError:
                pass
    return counters


def loss_counters(namespaces: list[Optional[str]]) -> dict[str, int]:
    """TCP retransmissions and UDP receive-buffer drops, summed over the namespaces (None: this one)."""
    total = {"tcp_retransmits": 0, "udp_drops": 0}
    for netns in namespaces:
        text = procs.run_checked(in_netns(netns, ["cat", "/proc/net/snmp"])) if netns \
            else Path("/proc/net/snmp").read_text()
        c = parse_snmp(text)
        total["tcp_retransmits"] += c.get("Tcp.RetransSegs", 0)
        total["udp_drops"] += c.get("Udp.RcvbufErrors", 0)
    return total
