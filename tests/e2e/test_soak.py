"""A small chaos soak (bench/soak/): every fault and every workload action, then the audit.

Nothing is lost, wrong, left with stale tags, left in the DLQ or written twice; the metrics
add up to the item writes; the DLQ held exactly the planted poison keys before the redrive.
Seeded (workload and fault plan); every wait is on queue state.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from soak import parameters, queues, run, workload  # noqa: E402

IMAGES = 200
# Seed 13: the chaos plan crashes a worker after each crash point (GET, tags, item write)
# within its first ~100 calls, and duplicates and delays a delivery within the first ten.
SEED = 13
# Most of a batch's time under faults is botocore's backoff, not CPU: four workers halve the
# test's time on two cores (the soak's default is the local config's two).
WORKERS = 4
# Shorter than a deployed function's 30 s, and a visibility timeout just above it, so that
# poison messages reach the DLQ (3 receives, each after the visibility timeout) within the
# test's time. Four workers' batches stay well within it (200 images).
FUNCTION_TIMEOUT_SECONDS = 10
VISIBILITY_TIMEOUT_SECONDS = 12


@pytest.mark.slow
def test_small_chaos_soak_loses_nothing(imgclf_home: Path, tiny_model_dir: Path) -> None:
    lines: list[str] = []

    report = run.run_soak(
        IMAGES,
        seed=SEED,
        faults=True,
        versioned=True,
        workers=WORKERS,
        baseline_images=0,
        stable_seconds=2.0,
        drain_timeout_seconds=150,
        function_timeout_seconds=FUNCTION_TIMEOUT_SECONDS,
        visibility_timeout_seconds=VISIBILITY_TIMEOUT_SECONDS,
        model_dir=tiny_model_dir,
        say=lines.append,
    )

    text = "\n".join(lines)
    result = report.result
    # Every workload action happened, the model was promoted mid-run, faults of every kind
    assert set(result.scenario_kinds) == {*workload.WEIGHTS, workload.POISON}, text
    assert result.tagged_keys > 0 and result.scenario_kinds[workload.BAD] >= 2, text
    assert result.promoted_after is not None, text
    assert 0 < result.promoted_after < result.images, text
    # And a third of the way in the pointer was written straight to a model that cannot run:
    # the function kept going on the last good one, and said so in its metric
    assert any(parameters.BROKEN_MODEL in line for line in lines), text
    assert result.metrics["ModelLoadFailed"] >= 1, text
    assert result.planned_fault_kinds, text
    missing = [k for k in result.planned_fault_kinds if not result.fault_counts.get(k)]
    assert not missing, f"never injected: {missing}\n{text}"
    # And the audit holds
    assert report.drained, text
    assert report.dlq_before_ok, text
    assert report.audit.poison_ok == len(result.poison_keys) > 0, text
    assert report.metrics_add_up is True, text
    assert report.counts == {
        "lost": 0,
        "wrong": 0,
        "stale-tags": 0,
        "dlq": 0,
        "duplicates-written": 0,
    }, text
    assert lines[-1] == "lost 0, wrong 0, stale-tags 0, dlq 0, duplicates-written 0", text
    assert report.ok, text


class QueueDraining:
    """An SQS stand-in whose visible count falls by `step` on every read."""

    def __init__(self, visible: int, step: int) -> None:
        self.visible, self.step, self.reads = visible, step, 0

    def get_queue_attributes(self, **_: object) -> dict[str, dict[str, str]]:
        self.reads += 1
        answer = {"ApproximateNumberOfMessages": str(self.visible)}
        self.visible = max(0, self.visible - self.step)
        return {"Attributes": answer}


def test_uploads_wait_until_the_backlog_is_at_most_the_limit() -> None:
    sqs = QueueDraining(visible=500, step=100)
    backlog = queues.Backlog(sqs, "queue", limit=250, interval=0.0)

    backlog.wait()

    assert sqs.reads == 4  # 500, 400, 300 are over the limit; 200 is not
    assert backlog.waited_seconds >= 0.0
    never = QueueDraining(visible=10_000, step=0)
    queues.Backlog(never, "queue", limit=0).wait()  # 0: uploads never wait
    assert never.reads == 0


def test_the_drain_outlasts_two_poison_cycles_after_the_backlog() -> None:
    one_cycle = (3 + 1) * 60.0
    with_faults = parameters.default_drain_timeout(
        10_000, faults=True, max_receive_count=3, visibility_timeout_seconds=60
    )
    assert with_faults == 10_000 * 0.5 + 2 * one_cycle
    assert (
        parameters.default_drain_timeout(
            100, faults=False, max_receive_count=3, visibility_timeout_seconds=60
        )
        == 180.0 + one_cycle
    )
