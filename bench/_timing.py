"""The one timer of the benchmarks: items per CPU-second of one core."""
from __future__ import annotations

import time


def cpu_rate(fn, min_seconds: float) -> float:
    """Items per CPU-second of fn() (which returns how many it did), repeated for min_seconds of CPU."""
    n, start = 0, time.process_time()
    while True:
        n += fn()
        elapsed = time.process_time() - start
        if elapsed >= min_seconds:
            return n / elapsed
