"""What `imgclf demo` prints when it is done: one screen, built from plain data (pure).

The live model and its artifact's path, per-label counts and accuracy on each kind of upload,
the rejects with their reasons, the figures, the report's path, and the command that shows the
full table.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from classifier.contracts import Status

from .output import plain
from .report_labels import summary_line

SCREEN_LINES = 40  # the whole summary, including the table's rules and the blank lines
MAX_REJECTS_SHOWN = 6
MAX_REASON = 70
# The lines that end in a path of the run (or the model cache): as long as that path.
LIVE_ARTIFACT = "live artifact: "
REPORT = "report: "
FULL_TABLE = "full table: "
PATH_LINES = (LIVE_ARTIFACT, REPORT, FULL_TABLE)


@dataclass(frozen=True)
class Judged:
    """Classified objects with a ground truth, per kind of upload: (true label, right?)."""

    rows: Mapping[str, Sequence[tuple[str, bool]]]

    @classmethod
    def of(
        cls,
        items: Sequence[Mapping[str, Any]],
        truth: Mapping[str, str],
        kinds: Mapping[str, str],
    ) -> Judged:
        """`kinds`: kind of upload -> its key prefix."""
        rows: dict[str, list[tuple[str, bool]]] = {kind: [] for kind in kinds}
        for item in items:
            key = str(item["key"])
            expected = truth.get(key)
            if expected is None or item.get("status") != Status.CLASSIFIED:
                continue
            for kind, prefix in kinds.items():
                if key.startswith(prefix):
                    rows[kind].append((expected, item.get("label") == expected))
        return cls(rows)

    def accuracy(self, kind: str) -> str | None:
        rows = self.rows.get(kind) or []
        right = sum(ok for _, ok in rows)
        return f"{right / len(rows):.1%} ({right}/{len(rows)})" if rows else None


def figures(
    items: Sequence[Mapping[str, Any]],
    judged: Judged,
    *,
    uploaded: int,
    dead_lettered: int,
    missing: int,
    elapsed: float,
    end_to_end_ms: Sequence[float],
) -> dict[str, str]:
    """The run's headline figures, formatted (the report shows the same)."""
    accuracy = {
        f"accuracy, {kind}": value
        for kind in judged.rows
        if (value := judged.accuracy(kind)) is not None
    }
    outside = judged.rows.get("outside photos") or []
    if outside:
        forced = sum(not ok for _, ok in outside)
        accuracy["forced into a class, outside photos"] = (
            f"{forced / len(outside):.1%} ({forced}/{len(outside)})"
        )
    handler_ms = [float(plain(i.get("latency_ms", 0))) for i in items]
    return {
        **accuracy,
        "uploaded": str(uploaded),
        "classified": str(sum(1 for i in items if i.get("status") == Status.CLASSIFIED)),
        "rejected": str(sum(1 for i in items if i.get("status") == Status.REJECTED)),
        "in DLQ": str(dead_lettered),
        "unaccounted": str(missing),
        "throughput": f"{uploaded / elapsed:.1f} img/s" if elapsed > 0 else "n/a",
        "wall time": f"{elapsed:.1f} s",
        "handler p50": _ms(statistics.median(handler_ms)) if handler_ms else "n/a",
        "handler p95": _ms(percentile(handler_ms, 0.95)) if handler_ms else "n/a",
        "queue→done p50": _ms(statistics.median(end_to_end_ms)) if end_to_end_ms else "n/a",
        "queue→done p95": _ms(percentile(end_to_end_ms, 0.95)) if end_to_end_ms else "n/a",
    }


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _ms(value: float) -> str:
    return f"{value:.0f} ms"


def accuracy_table(judged: Judged) -> list[str]:
    """Per label, `right/total (share)` on each kind of upload that has any, and all labels."""
    kinds = [kind for kind, rows in judged.rows.items() if rows]
    if not kinds:
        return ["accuracy: no classified upload with a ground truth"]
    counts = {kind: Counter(label for label, _ in judged.rows[kind]) for kind in kinds}
    right = {kind: Counter(label for label, ok in judged.rows[kind] if ok) for kind in kinds}
    labels = sorted({label for kind in kinds for label in counts[kind]})
    width = max(len("label"), *(len(label) for label in labels))
    lines = ["label".ljust(width) + "".join(f"  {kind:>16}" for kind in kinds)]
    for label in [*labels, "all"]:
        cells = []
        for kind in kinds:
            n = sum(counts[kind].values()) if label == "all" else counts[kind][label]
            r = sum(right[kind].values()) if label == "all" else right[kind][label]
            cells.append(f"{r}/{n} {r / n:4.0%}" if n else "–")
        lines.append(label.ljust(width) + "".join(f"  {cell:>16}" for cell in cells))
    return lines


def rejects(items: Sequence[Mapping[str, Any]], more_command: str) -> list[str]:
    rejected = sorted(
        (i for i in items if i.get("status") == Status.REJECTED), key=lambda i: str(i["key"])
    )
    lines = [f"rejected ({len(rejected)}):"]
    width = max((len(str(i["key"])) for i in rejected[:MAX_REJECTS_SHOWN]), default=0)
    for item in rejected[:MAX_REJECTS_SHOWN]:
        reason = str(item.get("reason", ""))
        if len(reason) > MAX_REASON:
            reason = reason[: MAX_REASON - 1] + "…"
        lines.append(f"  {str(item['key']).ljust(width)}  {reason}")
    if len(rejected) > MAX_REJECTS_SHOWN:
        lines.append(f"  … {len(rejected) - MAX_REJECTS_SHOWN} more: {more_command}")
    return lines


def figure_lines(figures: Mapping[str, str]) -> list[str]:
    """The counts on one line, the timings on another."""
    counts = ("uploaded", "classified", "rejected", "in DLQ", "unaccounted")
    timings = ("throughput", "wall time", "handler p50", "handler p95")
    queue = ("queue→done p50", "queue→done p95")
    lines = [
        " · ".join(f"{figures[name]} {name}" for name in counts if name in figures),
        " · ".join(f"{name} {figures[name]}" for name in timings if name in figures),
        " · ".join(f"{name} {figures[name]}" for name in queue if name in figures),
    ]
    return [line for line in lines if line]


def screen(
    *,
    live_model: str,
    live_artifact: str,
    judged: Judged,
    items: Sequence[Mapping[str, Any]],
    figures: Mapping[str, str],
    tag_lines: Sequence[str],
    report: str,
    results_command: str,
) -> list[str]:
    """The demo's last screen, as lines of text. A line of PATH_LINES is as long as its
    path; the others are short (the tests hold them to 100 characters)."""
    return [
        f"live model: {live_model}",
        f"{LIVE_ARTIFACT}{live_artifact}",
        "",
        "accuracy by label (ground truth = folder):",
        *accuracy_table(judged),
        "",
        *rejects(items, f"{results_command} --status rejected"),
        "",
        *figure_lines(figures),
        summary_line(items),
        *tag_lines,
        f"{REPORT}{report}",
        f"{FULL_TABLE}{results_command}",
    ]
