"""Small measuring helpers shared by the benchmarks."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (NaN when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


def summarize(latencies_ms: list[float], seconds: float, errors: int = 0) -> dict:
    """p50/p99/mean latency and throughput of one measured side."""
    ordered = sorted(latencies_ms)
    return {
        "requests": len(latencies_ms),
        "errors": errors,
        "p50_ms": round(percentile(ordered, 50), 4),
        "p99_ms": round(percentile(ordered, 99), 4),
        "mean_ms": round(sum(ordered) / len(ordered), 4) if ordered else float("nan"),
        "requests_per_s": round(len(latencies_ms) / seconds, 2) if seconds > 0 else float("nan"),
        "seconds": round(seconds, 3),
    }


def timed_each(call: Callable, items: Iterable) -> tuple[list[float], list]:
    """(latency ms of each call, results) of `call(item)` for every item, in order."""
    latencies, results = [], []
    for item in items:
        started = time.perf_counter()
        results.append(call(item))
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies, results


def folder_bytes(path) -> int:
    """Bytes of every file under `path`."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator else float("nan")
