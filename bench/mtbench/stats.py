"""Medians and ranges over runs, and ratios against the best peer."""

from __future__ import annotations

import statistics
from typing import Optional


def summary(values: list[float]) -> Optional[dict]:
    """{"median", "min", "max", "n"} of the values present, or None when there are none."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    return {"median": statistics.median(present), "min": min(present), "max": max(present), "n": len(present)}


def best(medians: dict[str, float], higher_is_better: bool) -> Optional[tuple[str, float]]:
    """The best (name, median) among those given."""
    if not medians:
        return None
    pick = max if higher_is_better else min
    name = pick(medians, key=lambda k: medians[k])
    return name, medians[name]


def ratio(value: Optional[float], reference: Optional[float]) -> Optional[float]:
    if value is None or not reference:
        return None
    return value / reference
