"""From what a run measured (counts, durations, items) to usage per image and demand per limit."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from classifier.contracts import (
    LABEL_REGISTRY_PK,
    LABEL_REGISTRY_VALUES,
    LABELS_ATTRIBUTE,
    TABLE_PARTITION_KEY,
    ShardedIndex,
)
from infra.table_costs import index_entry, item_size, write_units

from . import capacity, prices
from .pricing import (
    SQS_RECEIVE_MAX_MESSAGES,
    Usage,
    billed_ms,
    read_units,
    sqs_billed_requests,
)

SHARD_SUFFIX = re.compile(r"^(.*)#(\d+)$")
DYNAMODB_WRITES = ("dynamodb.PutItem", "dynamodb.UpdateItem", "dynamodb.DeleteItem")
# Lambda's platform lines per invocation (text log format), filled with the measured figures.
PLATFORM_LINES = (
    "START RequestId: {id} Version: $LATEST\n"
    "END RequestId: {id}\n"
    "REPORT RequestId: {id}\tDuration: {ms:.2f} ms\tBilled Duration: {billed} ms\t"
    "Memory Size: {memory} MB\tMax Memory Used: 190 MB\t\n"
)
REQUEST_ID = "8f5e2c1a-3b4d-4e6f-9a0b-1c2d3e4f5a6b"  # a UUID's length


@dataclass(frozen=True)
class Batch:
    """One invocation: its records, how many succeeded, the handler's wall time."""

    records: int
    succeeded: int
    seconds: float
    local_seconds: float = 0.0  # moto's own answer time along the batch's busiest thread
    threads: int = 1  # threads that made the function's calls: records handled at once
    cpu_seconds: float = 0.0  # CPU time of the function's threads (all of them, summed)

    def aws_seconds(self) -> float:
        """The handler's time without moto's own answer time, leaving the injected AWS latency
        and the compute. The batch took as long as its busiest thread, so that thread's moto
        time is what comes out (all of it when the records ran one after another)."""
        return max(0.0, self.seconds - self.local_seconds)

    def one_vcpu_seconds(self) -> float:
        """aws_seconds, but never less than the function's CPU time: the priced memory buys one
        vCPU, so records handled at once share one core, where this machine had more (the
        bench's cores let 10 records of a compute-heavy model overlap more than Lambda would)."""
        return max(self.aws_seconds(), self.cpu_seconds)


@dataclass(frozen=True)
class Measured:
    """One pass of the pipeline, the warm-up excluded."""

    images: int
    enqueued: int  # messages S3's notifications put on the queue
    attempts: Mapping[str, int]  # the function's HTTP attempts by service.Operation
    batches: Sequence[Batch]
    body_bytes: Sequence[int]  # each delivered message's body
    items: Sequence[Mapping[str, Any]]  # the items written (deserialized)
    indexes: Mapping[str, ShardedIndex]  # the table's GSIs (contracts.RESULTS_INDEXES)
    log_bytes: int  # what the function printed (JSON logs, EMF)
    # The label registry (contracts.LABEL_REGISTRY_PK): its UpdateItems in the pass (among
    # the attempts' dynamodb.UpdateItem) and the values it holds at the end.
    registry_writes: int = 0
    registry_values: Sequence[str] = ()

    def billed_ms(self, *, local: bool = False) -> list[int]:
        """Each invocation's billed ms: as measured (`local`), or with moto's time taken out
        and at least the function's CPU time (one vCPU: Batch.one_vcpu_seconds)."""
        return [billed_ms(b.seconds if local else b.one_vcpu_seconds()) for b in self.batches]

    def cpu_ms_per_image(self) -> float:
        """The function's CPU time per image (decode, inference, items; not moto's)."""
        return self.per_image(sum(b.cpu_seconds for b in self.batches) * 1000)

    def per_image(self, count: float) -> float:
        return count / self.images


def sqs_requests(measured: Measured) -> dict[str, float]:
    """Billed SQS requests per image: S3's SendMessage per object, the event source mapping's
    receives (up to 10 messages each) and deletes. All are billed to the queue's owner."""
    body = fmean(measured.body_bytes) if measured.body_bytes else 1.0
    receives = 0
    for batch in measured.batches:
        calls = max(1, math.ceil(batch.records / SQS_RECEIVE_MAX_MESSAGES))
        receives += calls * sqs_billed_requests(math.ceil(batch.records / calls * body))
    deletes = sum(
        math.ceil(batch.succeeded / SQS_RECEIVE_MAX_MESSAGES) for batch in measured.batches
    )
    return {
        "sqs.SendMessage (S3 notification)": measured.per_image(
            measured.enqueued * sqs_billed_requests(math.ceil(body))
        ),
        "sqs.ReceiveMessage (event source mapping)": measured.per_image(receives),
        "sqs.DeleteMessageBatch (event source mapping)": measured.per_image(deletes),
    }


def calls_per_image(measured: Measured) -> dict[str, float]:
    """Requests per image by service and operation (the function's, then the queue's)."""
    calls = {name: measured.per_image(count) for name, count in sorted(measured.attempts.items())}
    calls["lambda.Invoke (event source mapping)"] = measured.per_image(len(measured.batches))
    return {**calls, **sqs_requests(measured)}


def s3_classes(attempts: Mapping[str, int]) -> tuple[int, int]:
    """(GET-class, PUT-class) S3 requests; DELETEs are free."""
    get = put = 0
    for name, count in attempts.items():
        service, _, operation = name.partition(".")
        if service != "s3" or operation in prices.S3_FREE_OPERATIONS:
            continue
        if operation in prices.S3_PUT_CLASS_OPERATIONS:
            put += count
        else:
            get += count
    return get, put


def mean_item_bytes(measured: Measured) -> float:
    return fmean(item_size(item) for item in measured.items) if measured.items else 1.0


@dataclass(frozen=True)
class ItemSizes:
    """What the items of a run weigh, as DynamoDB bills them (infra.table_costs)."""

    items: int
    mean_bytes: float
    max_bytes: int
    over_one_unit: float  # share of items over 1 KB (2 or more write units)
    mean_labels: float  # generic labels per item (the `labels` map)
    mean_labels_bytes: float  # the `labels` attribute, name included
    index_entries: Mapping[str, tuple[float, int, float]]  # name -> mean B, max B, share > 1 KB


def item_sizes(measured: Measured) -> ItemSizes:
    """Sizes of the items written and of each GSI's entries (sparse indexes: present only)."""
    items = list(measured.items)
    sizes = [item_size(item) for item in items] or [0]
    labels = [item.get(LABELS_ATTRIBUTE) or {} for item in items] or [{}]
    entries: dict[str, tuple[float, int, float]] = {}
    for name, index in measured.indexes.items():
        found = [index_entry(item, index) for item in items]
        present = [item_size(e) for e in found if e is not None] or [0]
        over = sum(write_units(size) > 1 for size in present) / len(present)
        entries[name] = (fmean(present), max(present), over)
    return ItemSizes(
        items=len(items),
        mean_bytes=fmean(sizes),
        max_bytes=max(sizes),
        over_one_unit=sum(write_units(size) > 1 for size in sizes) / len(sizes),
        mean_labels=fmean(len(found) for found in labels),
        mean_labels_bytes=fmean(
            item_size({LABELS_ATTRIBUTE: found}) if found else 0 for found in labels
        ),
        index_entries=entries,
    )


def registry_bytes(values: Sequence[str]) -> int:
    """The registry item's size: its key and a string set (the sum of its strings)."""
    empty = item_size({TABLE_PARTITION_KEY: LABEL_REGISTRY_PK, LABEL_REGISTRY_VALUES: ""})
    return empty + sum(len(value.encode("utf-8")) for value in values)


def registry_write_units(values: Sequence[str], writes: int) -> float:
    """Write units of the registry's last `writes` ADDs: an UpdateItem is billed on the larger
    of the item before and after, here the item as it grows value by value (sorted order)
    up to all of `values`."""
    if writes <= 0:
        return 0.0
    names = sorted(values)
    sizes = [registry_bytes(names[: count + 1]) for count in range(len(names))]
    size = registry_bytes(names)
    sizes = sizes[-writes:] if len(sizes) >= writes else sizes + [size] * (writes - len(sizes))
    return float(sum(write_units(after) for after in sizes))


def write_units_per_write(measured: Measured) -> tuple[float, dict[str, float]]:
    """(table units, units per GSI) of an average first write of an item: the item, then the
    entry of every GSI it is in (its keys and projection; infra.table_costs)."""
    if not measured.items:
        return 1.0, {}
    count = len(measured.items)
    table = sum(write_units(item_size(item)) for item in measured.items) / count
    indexes = {}
    for name, index in measured.indexes.items():
        entries = [index_entry(item, index) for item in measured.items]
        indexes[name] = sum(write_units(item_size(e)) for e in entries if e is not None) / count
    return table, indexes


def platform_log_bytes(batches: Sequence[Batch], memory_mb: int) -> int:
    """Bytes of Lambda's START/END/REPORT lines for these invocations."""
    return sum(
        len(
            PLATFORM_LINES.format(
                id=REQUEST_ID, ms=b.seconds * 1000, billed=billed_ms(b.seconds), memory=memory_mb
            ).encode()
        )
        for b in batches
    )


def item_writes(measured: Measured) -> int:
    """The writes of result items (the registry's UpdateItems left out)."""
    writes = sum(measured.attempts.get(name, 0) for name in DYNAMODB_WRITES)
    return max(0, writes - measured.registry_writes)


def usage_of(
    measured: Measured, memory_mb: int, *, local: bool = False, registry: bool = False
) -> Usage:
    """Usage per image, by billing class; Lambda's duration without moto's own time unless
    `local` (as measured here). The label registry's writes (once per Lambda environment and
    index value: all of a short pass's values are new to its one environment, and none of
    a long run's) are counted only with `registry`, at the registry item's size."""
    get, put = s3_classes(measured.attempts)
    writes = item_writes(measured)
    table_units, index_units = write_units_per_write(measured)
    reads = measured.attempts.get("dynamodb.GetItem", 0)
    return Usage(
        lambda_invocations=measured.per_image(len(measured.batches)),
        lambda_billed_ms=measured.per_image(sum(measured.billed_ms(local=local))),
        memory_mb=memory_mb,
        sqs_requests=sum(sqs_requests(measured).values()),
        s3_get_class=measured.per_image(get),
        s3_put_class=measured.per_image(put),
        dynamodb_read_units=measured.per_image(
            reads * read_units(round(mean_item_bytes(measured)))
        ),
        dynamodb_write_units=measured.per_image(
            writes * (table_units + sum(index_units.values()))
            + (registry_write_units(measured.registry_values, measured.registry_writes)) * registry
        ),
        ssm_interactions=measured.per_image(measured.attempts.get("ssm.GetParameter", 0)),
        log_bytes=measured.per_image(
            measured.log_bytes + platform_log_bytes(measured.batches, memory_mb)
        ),
    )


def index_shards(measured: Measured) -> dict[str, int]:
    """Write shards seen on each GSI's partition values (`<value>#<n>`); 1 if unsharded."""
    shards: dict[str, int] = {}
    for name, index in measured.indexes.items():
        seen: dict[str, set[str]] = {}
        for item in measured.items:
            value = item.get(index.partition_key)
            match = SHARD_SUFFIX.match(value) if isinstance(value, str) else None
            if match:
                seen.setdefault(match.group(1), set()).add(match.group(2))
        shards[name] = max((len(values) for values in seen.values()), default=1)
    return shards


def profile_of(
    measured: Measured, usage: Usage, *, model_refresh_seconds: float
) -> capacity.Profile:
    """Per-image demand on each limit, from one pass."""
    writes = measured.per_image(item_writes(measured))
    table_units, index_units = write_units_per_write(measured)
    batch_ms = fmean(measured.billed_ms()) if measured.batches else 0
    return capacity.Profile(
        s3_get_per_image=usage.s3_get_class,
        s3_put_per_image=usage.s3_put_class,
        ms_per_image=usage.lambda_billed_ms,
        batch_seconds=batch_ms / 1000,
        table_write_units=writes * table_units,
        table_read_units=usage.dynamodb_read_units,
        index_write_units={name: writes * units for name, units in index_units.items()},
        index_shards=index_shards(measured),
        model_refresh_seconds=model_refresh_seconds,
    )
