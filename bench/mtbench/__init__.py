"""The side-by-side tunnel benchmark behind bench/compare.py (see bench/README.md).

One module per concept: processes and what they cost (procs), the greeting sink (sink), the load
clients (load), the delay relay (delay_relay), the contestants (contestants), the machine and its
limits (machine), medians and ratios (stats), the markdown and charts (report).
"""
