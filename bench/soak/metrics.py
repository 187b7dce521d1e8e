"""The function's metrics: the EMF lines Powertools prints at each flush, captured from stdout
and set apart by whether their invocation completed."""

from __future__ import annotations

import io
import json
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO


class EmfCapture(io.TextIOBase):
    """A stdout stand-in: keeps complete EMF JSON lines, passes every other line through.

    Each EMF line is held for the thread that printed it until that thread's invocation ends
    (`end_invocation`, from the poller's on_batch): an abandoned invocation (crashed, timed
    out, raised) never flushes on Lambda, so its lines are set apart, not counted.
    """

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self.completed: list[dict[str, Any]] = []
        self.abandoned: list[dict[str, Any]] = []
        self._held: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self.outcomes: dict[str, Any] = {}  # request id -> the poller's BatchOutcome
        self._partial: dict[int, str] = {}
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        ident = threading.get_ident()
        with self._lock:
            buffered = self._partial.pop(ident, "") + text
            *lines, rest = buffered.split("\n")
            if rest:
                self._partial[ident] = rest
            passed = []
            for line in lines:
                record = _emf(line)
                if record is not None:
                    self._held[ident].append(record)
                else:
                    passed.append(line + "\n")
            if passed:
                self.target.write("".join(passed))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self.target.flush()

    def end_invocation(self, outcome: Any) -> None:
        """The calling thread's invocation ended (the poller's on_batch, in that thread)."""
        with self._lock:
            self.outcomes[str(getattr(outcome, "request_id", ""))] = outcome
            held = self._held.pop(threading.get_ident(), [])
            (self.abandoned if getattr(outcome, "abandoned", False) else self.completed).extend(
                held
            )

    def totals(self, *, abandoned: bool = False) -> Counter[str]:
        """Count metrics summed over completed invocations (lines printed outside any
        invocation count as completed), or over the abandoned ones."""
        with self._lock:
            if abandoned:
                records = list(self.abandoned)
            else:
                records = self.completed + [r for held in self._held.values() for r in held]
        return count_metrics(records)


def count_metrics(records: list[dict[str, Any]]) -> Counter[str]:
    """The Count metrics of EMF records, summed by name."""
    totals: Counter[str] = Counter()
    for record in records:
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive.get("Metrics", []):
                name = metric.get("Name")
                value = record.get(name)
                values = value if isinstance(value, list) else [value]
                if metric.get("Unit") == "Count":
                    totals[name] += int(sum(float(v) for v in values if v is not None))
    return totals


def _emf(line: str) -> dict[str, Any] | None:
    if not line.startswith("{") or '"_aws"' not in line:
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) and "_aws" in record else None


@contextmanager
def captured_metrics() -> Iterator[EmfCapture]:
    capture = EmfCapture(sys.stdout)
    previous, sys.stdout = sys.stdout, capture
    try:
        yield capture
    finally:
        sys.stdout = previous
