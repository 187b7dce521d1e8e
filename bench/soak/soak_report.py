"""What the soak prints: each pass's audit, one line per invariant, the faults injected, the
throughput beside the baseline's, and the last line of counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from classifier.contracts import (
    METRIC_CLASSIFIED,
    METRIC_DUPLICATES,
    METRIC_MODEL_LOAD_FAILED,
    METRIC_RECORDS_FAILED,
    METRIC_REJECTED,
)

from .audit import Audit
from .pass_result import PassResult


@dataclass
class SoakReport:
    """The chaos pass (or the only pass, without faults), its baseline and the printed lines."""

    result: PassResult
    baseline: PassResult | None
    lines: list[str]

    @property
    def audit(self) -> Audit:
        return self.result.audit

    @property
    def lost(self) -> int:
        return self.audit.lost

    @property
    def wrong(self) -> int:
        return self.audit.wrong

    @property
    def stale_tags(self) -> int:
        return self.audit.stale_tags

    @property
    def dlq(self) -> int:
        return self.audit.dlq_after

    @property
    def duplicates_written(self) -> int:
        return self.audit.duplicates_written

    @property
    def counts(self) -> dict[str, int]:
        return {
            "lost": self.lost,
            "wrong": self.wrong,
            "stale-tags": self.stale_tags,
            "dlq": self.dlq,
            "duplicates-written": self.duplicates_written,
        }

    @property
    def metrics_counted(self) -> int:
        return self.result.metrics[METRIC_CLASSIFIED] + self.result.metrics[METRIC_REJECTED]

    @property
    def metrics_add_up(self) -> bool | None:
        """None when there is no journal to compare with."""
        if self.audit.completed_writes is None:
            return None
        if not self.audit.attributed:
            flushed = self.metrics_counted + _sum_images(self.result.abandoned_metrics)
            return flushed == self.audit.item_writes
        return self.metrics_counted == self.audit.completed_writes

    @property
    def poison_keys(self) -> set[str]:
        return set(self.result.poison_keys) if self.result.faults else set()

    @property
    def dlq_before_ok(self) -> bool:
        return set(self.result.dlq_before) == self.poison_keys

    @property
    def drained(self) -> bool:
        return self.result.drained and self.result.drained_after

    @property
    def ok(self) -> bool:
        return (
            not any(self.counts.values())
            and self.metrics_add_up is not False
            and self.dlq_before_ok
            and self.drained
        )

    @property
    def last_line(self) -> str:
        return ", ".join(f"{name} {value}" for name, value in self.counts.items())


def report_lines(
    result: PassResult, baseline: PassResult | None, *, max_findings: int = 20
) -> list[str]:
    """The baseline's audit (if any), the pass's audit, faults, throughput, the last line."""
    lines = []
    if baseline is not None:
        lines.append("baseline, the same workload without faults:")
        lines += [f"  {line}" for line in audit_lines(baseline, max_findings=max_findings)]
        lines.append(f"  {SoakReport(baseline, None, []).last_line}")
        lines.append("with faults:" if result.faults else "the run:")
    lines += audit_lines(result, max_findings=max_findings)
    if result.faults:
        injected = ", ".join(f"{k} {v}" for k, v in sorted(result.fault_counts.items()))
        lines.append(
            f"faults injected: {injected or 'none'} (total {sum(result.fault_counts.values())})"
        )
        if result.planned_fault_kinds is not None:
            absent = [k for k in result.planned_fault_kinds if not result.fault_counts.get(k)]
            if absent:
                lines.append(f"  planned but never injected: {', '.join(absent)}")
    lines.append(_throughput_line(result, baseline))
    lines.append(SoakReport(result, baseline, []).last_line)
    return lines


def _throughput_line(result: PassResult, baseline: PassResult | None) -> str:
    label = "with faults" if result.faults else "without faults"
    throughput = (
        f"throughput: {result.images_per_second:.1f} images/s {label} "
        f"({result.images} uploads in {result.seconds:.1f} s)"
    )
    if baseline is not None:
        ratio = (
            result.images_per_second / baseline.images_per_second
            if baseline.images_per_second
            else 0.0
        )
        throughput += (
            f"; baseline {baseline.images_per_second:.1f} images/s without faults "
            f"({baseline.images} uploads of the same workload in {baseline.seconds:.1f} s, "
            f"this run); ratio {ratio:.2f}"
        )
    return throughput


def audit_lines(result: PassResult, *, max_findings: int = 20) -> list[str]:
    """One line per invariant, counted per key, then the findings with their histories."""
    audit = result.audit
    report = SoakReport(result, None, [])
    lines = [
        f"audit: {result.images} uploads over {audit.keys} keys "
        f"({audit.existing} exist, {audit.deleted} deleted); {audit.items} items in the table",
        f"  every existing key has exactly one item with its current etag, status and label: "
        f"{audit.existing - audit.lost - audit.wrong_existing}"
        f"/{audit.existing} (lost {audit.lost}, wrong {audit.wrong_existing})",
        f"  every deleted key has no item: {audit.deleted - audit.deleted_with_item}"
        f"/{audit.deleted}; items for keys never uploaded: {audit.unexpected_items}",
        f"  imgclf tags agree with the item, user tags kept: "
        f"{audit.tags_checked - audit.stale_tags}/{audit.tags_checked} objects "
        f"({audit.user_tags_expected} with user tags)",
        _dlq_line(result, report),
        f"  after lifting the faults and redriving {result.redriven}: DLQ holds "
        f"{audit.dlq_after}; poison keys classified correctly {audit.poison_ok}"
        f"/{audit.poison_keys}",
        _metrics_line(result, report),
        f"  item writes repeating the key's previous write: {audit.duplicates_written}",
    ]
    if not result.drained or not result.drained_after:
        lines.append(
            f"  queue NOT drained: after the run {result.left}, after the redrive "
            f"{result.left_after}"
        )
    if audit.harness_mismatches:
        lines.append(f"  harness: {audit.harness_mismatches} keys' existence differs from plan")
    return lines + _findings_lines(audit, max_findings)


def _dlq_line(result: PassResult, report: SoakReport) -> str:
    expected = sorted(report.poison_keys)
    found = sorted(result.dlq_before)
    others = sorted(set(found) - set(expected))
    missing = sorted(set(expected) - set(found))
    return (
        f"  DLQ before the redrive holds exactly the planted poison keys: "
        f"{'yes' if report.dlq_before_ok else 'NO'} ({sum(result.dlq_before.values())} messages, "
        f"{len(set(found) & set(expected))}/{len(expected)} poison keys"
        + (f", other keys {others[:5]}{'…' if len(others) > 5 else ''}" if others else "")
        + (f", poison keys missing {missing}" if missing else "")
        + ")"
    )


def _metrics_line(result: PassResult, report: SoakReport) -> str:
    audit, totals = result.audit, result.metrics
    if audit.completed_writes is None:
        return (
            f"  metrics: ImagesClassified {totals[METRIC_CLASSIFIED]} + ImagesRejected "
            f"{totals[METRIC_REJECTED]} = {report.metrics_counted}; no journal to compare with"
        )
    if not audit.attributed:
        return (
            f"  metrics add up: {'yes' if report.metrics_add_up else 'NO'} (the journal does "
            f"not name invocations without a fault plan, so every flush is compared: "
            f"ImagesClassified {totals[METRIC_CLASSIFIED]} + ImagesRejected "
            f"{totals[METRIC_REJECTED]} + {_sum_images(result.abandoned_metrics)} from "
            f"timed-out invocations; item writes {audit.item_writes})"
        )
    return (
        f"  metrics add up: {'yes' if report.metrics_add_up else 'NO'} (ImagesClassified "
        f"{totals[METRIC_CLASSIFIED]} + ImagesRejected {totals[METRIC_REJECTED]} = "
        f"{report.metrics_counted}; item writes in completed invocations "
        f"{audit.completed_writes} of {audit.item_writes}"
        + (
            f", {audit.writes_without_invocation} outside any invocation"
            if audit.writes_without_invocation
            else ""
        )
        + f"; DuplicatesSkipped {totals[METRIC_DUPLICATES]}, "
        f"RecordsFailed {totals[METRIC_RECORDS_FAILED]}, "
        f"ModelLoadFailed {totals[METRIC_MODEL_LOAD_FAILED]}; not counted, from invocations "
        f"Lambda would have stopped: {_sum_images(result.abandoned_metrics)})"
    )


def _findings_lines(audit: Audit, max_findings: int) -> list[str]:
    """The findings, the first `max_findings` keys' with their histories."""
    if not audit.findings:
        return []
    lines = [f"findings ({len(audit.findings)}; histories of the first {max_findings}):"]
    shown = 0
    for item in audit.findings:
        lines.append(f"  {item.invariant}: {item.key}: {item.detail}")
        if shown < max_findings and item.key in audit.histories:
            shown += 1
            lines.extend(f"      {line}" for line in audit.histories[item.key])
    return lines


def _sum_images(totals: Counter[str]) -> int:
    return totals[METRIC_CLASSIFIED] + totals[METRIC_REJECTED]
