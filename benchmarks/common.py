"""Shared helpers for the side-by-side benchmarks: timing, tables, memory bandwidth, JSON results."""
from __future__ import annotations

import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Callable, Dict, List, Sequence

RESULTS = Path(__file__).resolve().parent / "results"


def set_threads(threads: int | None) -> int:
    """Give torch (and BLAS) the same thread count for ours and theirs; returns it."""
    import torch

    threads = threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    return threads


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def alternating_medians(ours: Callable[[], object], theirs: Callable[[], object], repeats: int,
                        warmup: int = 1) -> tuple[float, float]:
    """Median times of two functions run in alternation, so both see the same machine load."""
    for _ in range(warmup):
        ours()
        theirs()
    a, b = [], []
    for _ in range(repeats):
        for fn, out in ((ours, a), (theirs, b)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def memory_bandwidth_gbs(size_mb: int = 512, repeats: int = 5) -> float:
    """Copy bandwidth (read + write bytes / s) of a large float32 tensor, in GB/s."""
    import torch

    n = size_mb * 2**20 // 4
    src, dst = torch.ones(n), torch.empty(n)
    dst.copy_(src)
    best = min(_timed(lambda: dst.copy_(src)) for _ in range(repeats))
    return 2 * n * 4 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def print_table(title: str, header: Sequence[str], rows: List[Sequence[object]]) -> None:
    """A fixed-width table on stdout."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for i, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def save_results(name: str, data: Dict) -> Path:
    """Write ``benchmarks/results/<name>.json`` (read by run_all.py for BENCHMARKS.md and the chart)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
