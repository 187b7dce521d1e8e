"""From what a run measured (counts, durations, items) to usage per image and demand per limit."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from classifier.contracts import ShardedIndex
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

    def aws_seconds(self) -> float:
        """The handler's time without moto's own answer time, leaving the injected AWS latency
        and the compute. The batch took as long as its busiest thread, so that thread's moto
        time is what comes out (all of it when the records ran one after another)."""
        return max(0.0, self.seconds - self.local_seconds)


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

    def billed_ms(self, *, local: bool = False) -> list[int]:
        """Each invocation's billed ms: as measured (`local`), or with moto's time taken out."""
        return [billed_ms(b.seconds if local else b.aws_seconds()) for b in self.batches]

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


def usage_of(measured: Measured, memory_mb: int, *, local: bool = False) -> Usage:
    """Usage per image, by billing class; Lambda's duration without moto's own time unless
    `local` (as measured here)."""
    get, put = s3_classes(measured.attempts)
    writes = sum(measured.attempts.get(name, 0) for name in DYNAMODB_WRITES)
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
        dynamodb_write_units=measured.per_image(writes * (table_units + sum(index_units.values()))),
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
    writes = measured.per_image(sum(measured.attempts.get(name, 0) for name in DYNAMODB_WRITES))
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
