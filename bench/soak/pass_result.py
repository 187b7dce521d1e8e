"""One pass's result: what ran, how the queue drained, what the DLQ held, the metrics the
function flushed and the audit."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .audit import Audit


@dataclass
class PassResult:
    """One environment's run of the workload, up to and including the audit."""

    images: int
    faults: bool
    seconds: float  # first upload to the first drain
    drained: bool
    left: dict[str, int]
    dlq_before: dict[str, int]  # key -> messages, before the redrive
    redriven: int
    drained_after: bool
    left_after: dict[str, int]
    audit: Audit
    fault_counts: dict[str, int]
    planned_fault_kinds: list[str] | None
    metrics: Counter[str]  # count metrics of completed invocations
    abandoned_metrics: Counter[str]  # printed by invocations Lambda would not have let flush
    poison_keys: list[str]
    scenario_kinds: Counter[str]  # keys per workload action
    tagged_keys: int
    promoted_after: int | None  # uploads done when tiny-v2 was promoted

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0
