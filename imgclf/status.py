"""`imgclf status`: one screen for an environment, local or deployed, through the same calls.

The live model and its gate figures (the SSM pointer and the artifact's model.json), the
queue's backlog and what is in flight, the DLQ's depth, counts by status and label over a
window, and throughput over the last minutes. The counts are `Select=COUNT` Queries on the
one index, by_label (every shard of every registered value, the rejects under their own
value), bounded by `classified_at`: never a Scan, and as cheap as the window is short.
`gather` reads; `render` is pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from classifier.contracts import (
    REJECTED_PARTITION,
    ModelPointer,
    shard_values,
)
from gate.recorded import recorded_gate

from .deployment import Deployment
from .labels import count_partition
from .models import pins, pointer_parameter, read_artifact_metadata_and_digest
from .result_queries import MAX_PARALLEL_QUERIES, registered_values

THROUGHPUT_MINUTES = (1, 5, 15)
# Label rows on the screen: a trained model's labels fit; a generic model's hundreds of
# labels end in one line that says how many more there are.
STATUS_LABEL_ROWS = 12
QUEUE_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


@dataclass(frozen=True)
class LiveModel:
    version: str
    promoted_at: str | None = None
    architecture: str | None = None
    labels: tuple[str, ...] = ()  # a trained model's own labels; none for a generic model
    hierarchy: str | None = None  # the version of its generic labels' hierarchy, if any
    gate: str = "no gate verdict in model.json"
    accuracy: Mapping[str, str] = field(default_factory=dict)  # evaluation set -> figure
    # Why the function refuses what the pointer names (an artifact replaced after promotion,
    # missing or unreadable; a malformed pointer), and keeps its last good model; None: no
    # such problem
    problem: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """What `imgclf status` shows, as read at `taken_at`."""

    env: str
    taken_at: datetime
    since: datetime
    live: LiveModel | None
    queue: Mapping[str, int]  # visible, in flight, delayed
    dead_letters: int
    counts: Mapping[str, int]  # by_label value -> items since `since`
    throughput: Mapping[int, int]  # minutes -> items in the last that many minutes


def gather(deployment: Deployment, *, since: datetime, now: datetime | None = None) -> Snapshot:
    """Read every figure of the screen from the environment."""
    now = now or datetime.now(UTC)
    sqs = deployment.client("sqs")
    queue = _queue_depths(sqs, deployment.queue_url)
    dead = _queue_depths(sqs, deployment.dead_letter_queue_url)
    live = _live_model(deployment)
    # The live model's own labels are counted even before the function first writes one
    own = live.labels if live else ()
    values = sorted({*registered_values(deployment), *own})
    windows = {
        0: _sort_key(since),
        **{m: _sort_key(now - timedelta(minutes=m)) for m in THROUGHPUT_MINUTES},
    }
    counted = _count(deployment, values, windows)
    return Snapshot(
        env=deployment.env,
        taken_at=now,
        since=since,
        live=live,
        queue=queue,
        dead_letters=sum(dead.values()),
        counts={value: counted[value, 0] for value in values},
        throughput={m: sum(counted[value, m] for value in values) for m in THROUGHPUT_MINUTES},
    )


def render(snapshot: Snapshot) -> list[str]:
    """The screen, as lines (at most about 30 for ten labels)."""
    lines = [
        f"imgclf status: {snapshot.env}, {snapshot.taken_at:%Y-%m-%d %H:%M:%S} UTC",
        "",
        *_model_lines(snapshot.live),
        "",
        (
            f"queue: {snapshot.queue.get('visible', 0)} waiting, "
            f"{snapshot.queue.get('in flight', 0)} in flight, "
            f"{snapshot.queue.get('delayed', 0)} delayed; "
            f"dead-letter queue: {snapshot.dead_letters}"
        ),
        "throughput: "
        + ", ".join(
            f"{snapshot.throughput.get(m, 0) / m:.1f}/min over {m} min" for m in THROUGHPUT_MINUTES
        ),
        "",
        *_count_lines(snapshot),
    ]
    return lines


def _model_lines(live: LiveModel | None) -> list[str]:
    if live is None:
        return ["live model: none promoted (imgclf model list; imgclf model promote VERSION)"]
    if live.problem is not None:
        return [
            f"live model: {live.version}, {live.problem}, so the function refuses it: it keeps "
            "the last model it loaded, or a cold one the pointer's previous if that still "
            "loads (promote a version to put one live again)"
        ]
    labels = [f"{len(live.labels)} labels"] if live.labels or not live.hierarchy else []
    if live.hierarchy:
        labels.append(f"generic labels, hierarchy {live.hierarchy}")
    lines = [f"live model: {live.version} ({live.architecture or '?'}, {', '.join(labels)})"]
    if live.promoted_at:
        lines.append(f"  promoted {live.promoted_at}")
    lines.append(f"  gate: {live.gate}")
    lines += [f"  {name}: {figure}" for name, figure in live.accuracy.items()]
    return lines


def _count_lines(snapshot: Snapshot) -> list[str]:
    rejected = snapshot.counts.get(REJECTED_PARTITION, 0)
    labels = {k: v for k, v in snapshot.counts.items() if k != REJECTED_PARTITION}
    classified = sum(labels.values())
    since = f"{snapshot.since:%Y-%m-%d %H:%M} UTC"
    lines = [f"since {since}: {classified} classified, {rejected} rejected"]
    # A label with nothing in the window is a row only when it is one of the live model's
    # own: the registry also holds every generic label and second label ever written.
    own = set(snapshot.live.labels) if snapshot.live else set()
    shown_labels = {k: v for k, v in labels.items() if v or k in own}
    ranked = sorted(shown_labels.items(), key=lambda pair: (-pair[1], pair[0]))
    shown = ranked if len(ranked) <= STATUS_LABEL_ROWS else ranked[: STATUS_LABEL_ROWS - 1]
    width = max((len(label) for label, _ in shown), default=5)
    for label, count in shown:
        share = f"{count / classified:6.1%}" if classified else ""
        lines.append(f"  {label.ljust(width)}  {count:>8}  {share}")
    busy = [count for _, count in ranked[len(shown) :] if count]
    if busy:
        lines.append(
            f"  ... {len(busy)} more labels, {sum(busy)} items (imgclf labels: all, at every level)"
        )
    return lines


def _sort_key(moment: datetime) -> str:
    """A moment as the index's sort key writes it (UTC, milliseconds, `Z`)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _queue_depths(sqs: Any, url: str) -> dict[str, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(QUEUE_ATTRIBUTES))
    raw = attributes.get("Attributes", {})
    names = dict(zip(QUEUE_ATTRIBUTES, ("visible", "in flight", "delayed"), strict=True))
    return {names[name]: int(raw.get(name, 0)) for name in QUEUE_ATTRIBUTES}


def _count(
    deployment: Deployment, values: Sequence[str], windows: Mapping[int, str]
) -> dict[tuple[str, int], int]:
    """(value, window) -> items of that value whose classified_at is at or after the window's
    start: paginated COUNT Queries, at most 16 at once. Every window runs to now, so they
    nest: the widest is counted on every shard of every value, and each narrower one only
    where the one before found items (a label seen last week costs one Query, not four)."""
    client = deployment.client("dynamodb")
    totals: dict[tuple[str, int], int] = {(v, w): 0 for v in values for w in windows}
    pairs = [(value, p) for value in values for p in shard_values(value, deployment.index_shards)]
    for window in sorted(windows, key=lambda w: windows[w]):
        counted = _count_pairs(client, deployment.results_table, pairs, windows[window])
        for (value, _), count in zip(pairs, counted, strict=True):
            totals[value, window] += count
        pairs = [pair for pair, count in zip(pairs, counted, strict=True) if count]
    return totals


def _count_pairs(
    client: Any, table: str, pairs: Sequence[tuple[str, str]], start: str
) -> list[int]:
    """Each (value, partition)'s items since `start`, at most 16 Queries at once."""
    if not pairs:
        return []
    with ThreadPoolExecutor(min(len(pairs), MAX_PARALLEL_QUERIES)) as pool:
        return list(pool.map(lambda pair: count_partition(client, table, pair[1], start), pairs))


def _live_model(deployment: Deployment) -> LiveModel | None:
    parameter = pointer_parameter(deployment)
    if parameter is None:
        return None
    modified = parameter.get("LastModifiedDate")
    promoted = f"{modified.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if modified else None
    try:
        pointer = ModelPointer.from_json(parameter["Value"])
    except ValueError as error:
        problem = f"its pointer {deployment.model_pointer_parameter} is malformed ({error})"
        return LiveModel(version="?", promoted_at=promoted, problem=problem)
    found = read_artifact_metadata_and_digest(deployment, pointer.version)
    if found is None:
        problem = f"its artifact {pointer.uri} is missing or unreadable"
        return LiveModel(version=pointer.version, promoted_at=promoted, problem=problem)
    metadata, digest = found
    if not pins(pointer, digest):
        # The function refuses these bytes and serves its last good model: what model.json
        # now says is not what went live.
        problem = "REPLACED after promotion: its model.json is not the one promotion checked"
        return LiveModel(version=pointer.version, promoted_at=promoted, problem=problem)
    return LiveModel(
        version=pointer.version,
        promoted_at=promoted,
        architecture=metadata.get("architecture"),
        labels=tuple(str(label) for label in metadata.get("labels", [])),
        hierarchy=_hierarchy_version(metadata.get("hierarchy")),
        gate=_gate(metadata),
        accuracy=_accuracy(metadata.get("metrics") or {}),
    )


def _hierarchy_version(hierarchy: Any) -> str | None:
    """model.json's `hierarchy.version` (a model with ImageNet's outputs), else None."""
    version = hierarchy.get("version") if isinstance(hierarchy, Mapping) else None
    return str(version) if version else None


def _gate(metadata: Mapping[str, Any]) -> str:
    gate = recorded_gate(metadata)
    return gate.summary() if gate is not None else "no gate verdict in model.json"


def _accuracy(metrics: Mapping[str, Any]) -> dict[str, str]:
    """int8 accuracy overall and on each evaluation set, as measured when the model was made."""
    shown = {}
    if isinstance(metrics.get("int8_accuracy"), float):
        shown["int8 test accuracy"] = f"{metrics['int8_accuracy']:.1%}"
    for name, entry in (metrics.get("evaluations") or {}).items():
        if isinstance(entry, Mapping) and "accuracy" in entry:
            shown[name] = f"{float(entry['accuracy']):.1%} of {entry.get('count', '?')}"
    return shown
