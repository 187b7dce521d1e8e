"""Timing: p50/p95 of repeated calls, and calls timed round-robin so load drift hits all alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) of milliseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def time_calls(call: Callable[[], object], repeats: int, warmup: int = 3) -> list[float]:
    """Milliseconds of `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def interleaved(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Time each call `repeats` times, round-robin, so load drift hits all of them alike."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        call()
    for _ in range(repeats):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def medians(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The p50 of each call over `repeats` interleaved rounds."""
    return {name: statistics.median(t) for name, t in interleaved(calls, repeats).items()}
