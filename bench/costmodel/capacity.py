"""Every limit on the path, and where the measured per-image demand saturates it.

Each limit is a quota (per second, or a count) and a demand per image per second taken from
the cost run; a limit saturates at quota / demand images per second. Sources are the AWS
documentation pages named on each limit (docs/capacity.md cites them in full).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

RATES = (100, 1_000, 10_000)  # images per second the table is drawn for
BACKFILL_OBJECTS = 100_000_000

# Quotas (default values; each can be raised where the setting says so).
S3_GET_PER_PREFIX = 5_500  # GET/HEAD per second per partitioned prefix
S3_PUT_PER_PREFIX = 3_500  # PUT/COPY/POST/DELETE per second per partitioned prefix
SQS_IN_FLIGHT = 120_000  # standard queue, messages received and not deleted
ESM_MAX_CONCURRENT_BATCHES = 1_000  # an SQS event source mapping, standard (not provisioned)
ESM_START_BATCHES = 5  # batches an ESM starts with when messages arrive
ESM_SCALE_PER_MINUTE = 300  # more concurrent invocations per minute while messages remain
LAMBDA_ACCOUNT_CONCURRENCY = 1_000  # per Region, default
LAMBDA_SCALE_PER_10_SECONDS = 1_000  # execution environments per function every 10 s
DYNAMODB_TABLE_UNITS = 40_000  # on-demand: per table and per GSI, reads and writes each
DYNAMODB_NEW_TABLE_WRITE_UNITS = 4_000  # a new on-demand table, before it has a peak
DYNAMODB_DOUBLING_MINUTES = 30  # on-demand absorbs up to 2x the previous peak per 30 min
DYNAMODB_PARTITION_WRITE_UNITS = 1_000  # per partition, so per partition key value at most
SSM_DEFAULT_TPS = 40  # GetParameter + GetParameters + GetParametersByPath, shared
SSM_HIGHER_TPS = 3_000  # with higher throughput enabled (billed per interaction)

S3_GET_SOURCE = "S3 User Guide, Best practices design patterns: optimizing performance"
S3_PUT_SOURCE = S3_GET_SOURCE
SQS_SOURCE = "SQS Developer Guide, Amazon SQS standard queue quotas (messages in flight)"
ESM_SOURCE = "Lambda Developer Guide, Configuring scaling behavior for SQS event source mappings"
LAMBDA_SOURCE = "Lambda Developer Guide, Lambda scaling behavior; Lambda quotas"
DYNAMODB_TABLE_SOURCE = "DynamoDB Developer Guide, Quotas: throughput default quotas"
DYNAMODB_PARTITION_SOURCE = (
    "DynamoDB Developer Guide, Key range throughput exceeded (hot partitions); "
    "warm throughput scenarios: 1,000 write units per second per partition"
)
SSM_SOURCE = "Systems Manager, Parameter Store throughput; Systems Manager service quotas"


@dataclass(frozen=True)
class Profile:
    """Per-image demand on each limited resource, from the measured run."""

    s3_get_per_image: float  # GET-class requests on the images bucket
    s3_put_per_image: float  # PUT-class requests the function makes (tag writes)
    ms_per_image: float  # billed Lambda ms per image: concurrency = rate * ms / 1000
    batch_seconds: float  # an invocation's duration: how long a message stays in flight
    table_write_units: float
    table_read_units: float
    index_write_units: Mapping[str, float]  # per image, per GSI
    index_shards: Mapping[str, int]  # write shards seen on each GSI's partition values
    model_refresh_seconds: float = 60.0


@dataclass(frozen=True)
class Quotas:
    """The quotas and settings the table is computed under."""

    name: str
    max_concurrency: int  # cdk.json max_concurrency: the ESM's MaximumConcurrency
    account_concurrency: int = LAMBDA_ACCOUNT_CONCURRENCY
    s3_prefixes: int = 1  # partitioned prefixes the keys spread over
    ssm_tps: float = SSM_DEFAULT_TPS
    table_units: float = DYNAMODB_TABLE_UNITS
    index_shards: Mapping[str, int] = field(default_factory=dict)  # override per GSI


@dataclass(frozen=True)
class Limit:
    """One limit: `quota` units, of which each image per second takes `demand`."""

    name: str
    quota: float
    demand: float
    setting: str
    source: str

    @property
    def max_rate(self) -> float:
        """Images per second at which this limit is saturated."""
        return math.inf if self.demand <= 0 else self.quota / self.demand

    def utilisation(self, rate: float) -> float:
        return rate * self.demand / self.quota


def concurrency(profile: Profile, rate: float) -> float:
    """Concurrent executions busy at `rate` images per second."""
    return rate * profile.ms_per_image / 1000


def limits(profile: Profile, quotas: Quotas, *, uploads_per_image: float = 1.0) -> list[Limit]:
    """Every limit on the path. `uploads_per_image` is the user's PUT of the image itself
    (1 for live ingest, 0 for a backfill of objects already stored)."""
    return [
        *_s3_limits(profile, quotas, uploads_per_image),
        *_invocation_limits(profile, quotas),
        *_table_limits(profile, quotas),
        Limit(
            "SSM GetParameter (model pointer)",
            quotas.ssm_tps,
            profile.ms_per_image / 1000 / profile.model_refresh_seconds,
            "Parameter Store higher throughput; MODEL_REFRESH_SECONDS",
            SSM_SOURCE,
        ),
    ]


def _s3_limits(profile: Profile, quotas: Quotas, uploads_per_image: float) -> list[Limit]:
    return [
        Limit(
            "S3 GET/HEAD per prefix",
            S3_GET_PER_PREFIX * quotas.s3_prefixes,
            profile.s3_get_per_image,
            "key layout: S3 partitions busy prefixes itself; spread keys over prefixes",
            S3_GET_SOURCE,
        ),
        Limit(
            "S3 PUT per prefix (tags + upload)",
            S3_PUT_PER_PREFIX * quotas.s3_prefixes,
            profile.s3_put_per_image + uploads_per_image,
            "TAGS (fewer tag writes); key layout",
            S3_PUT_SOURCE,
        ),
    ]


def _invocation_limits(profile: Profile, quotas: Quotas) -> list[Limit]:
    """The queue's messages in flight, the event source mapping's and Lambda's concurrency."""
    per_image_concurrency = profile.ms_per_image / 1000
    return [
        Limit(
            "SQS messages in flight",
            SQS_IN_FLIGHT,
            profile.batch_seconds,
            "batch_size, batch_window_seconds (shorter invocations hold fewer)",
            SQS_SOURCE,
        ),
        Limit(
            "ESM MaximumConcurrency",
            quotas.max_concurrency,
            per_image_concurrency,
            "max_concurrency (cdk.json, 2..1000); RECORD_CONCURRENCY (ms per image)",
            ESM_SOURCE,
        ),
        Limit(
            "ESM concurrent batches",
            ESM_MAX_CONCURRENT_BATCHES,
            per_image_concurrency,
            "provisioned mode (MaximumPollers), not in cdk.json",
            ESM_SOURCE,
        ),
        Limit(
            "Lambda account concurrency",
            quotas.account_concurrency,
            per_image_concurrency,
            "Service Quotas increase (account-wide)",
            LAMBDA_SOURCE,
        ),
    ]


def _table_limits(profile: Profile, quotas: Quotas) -> list[Limit]:
    """The table's throughput, then each index's busiest key value (over its shards)."""
    rows = [
        Limit(
            "DynamoDB table writes",
            quotas.table_units,
            profile.table_write_units,
            "Service Quotas increase (table-level throughput)",
            DYNAMODB_TABLE_SOURCE,
        ),
        Limit(
            "DynamoDB table reads",
            quotas.table_units,
            profile.table_read_units,
            "Service Quotas increase (table-level throughput)",
            DYNAMODB_TABLE_SOURCE,
        ),
    ]
    for index, units in sorted(profile.index_write_units.items()):
        shards = quotas.index_shards.get(index, profile.index_shards.get(index, 1))
        setting = (
            "index_shards (cdk.json, 1..64)"
            if profile.index_shards.get(index, 1) > 1
            else "unsharded: write-shard it (issue 10 §3), then index_shards"
        )
        rows.append(
            Limit(
                f"GSI {index}: busiest key value",
                DYNAMODB_PARTITION_WRITE_UNITS,
                units / shards,
                setting,
                DYNAMODB_PARTITION_SOURCE,
            )
        )
    return rows


def binding(rows: Sequence[Limit]) -> Limit:
    """The limit that saturates first."""
    return min(rows, key=lambda row: row.max_rate)


def backfill_hours(rows: Sequence[Limit], objects: int = BACKFILL_OBJECTS) -> float:
    """Hours to classify `objects` at the rate the binding limit allows."""
    return objects / binding(rows).max_rate / 3600


def esm_ramp_minutes(profile: Profile, rate: float, quotas: Quotas) -> float:
    """Minutes for the ESM to scale from 5 batches to the concurrency `rate` needs."""
    needed = min(concurrency(profile, rate), quotas.max_concurrency, quotas.account_concurrency)
    return max(0.0, needed - ESM_START_BATCHES) / ESM_SCALE_PER_MINUTE


def dynamodb_ramp_minutes(profile: Profile, rate: float) -> float:
    """Minutes for a new on-demand table (4,000 WRU/s) to reach the write rate, doubling its
    peak at most every 30 minutes (pre-warming with warm throughput removes the wait)."""
    busiest = max([profile.table_write_units, *profile.index_write_units.values()])
    needed = rate * busiest
    if needed <= DYNAMODB_NEW_TABLE_WRITE_UNITS:
        return 0.0
    doublings = math.ceil(math.log2(needed / DYNAMODB_NEW_TABLE_WRITE_UNITS))
    return float(doublings * DYNAMODB_DOUBLING_MINUTES)


def raised(quotas: Quotas, profile: Profile, *, max_shards: int) -> Quotas:
    """Quotas after every setting and request that moves them: ESM at its 1,000 maximum,
    10,000 account concurrency (a quota request), keys over 10 prefixes, SSM higher
    throughput, 100,000 table units (a quota request), sharded GSIs at the most shards."""
    shards = {
        index: max_shards if count > 1 else count for index, count in profile.index_shards.items()
    }
    return replace(
        quotas,
        name="raised",
        max_concurrency=1_000,
        account_concurrency=10_000,
        s3_prefixes=10,
        ssm_tps=SSM_HIGHER_TPS,
        table_units=100_000,
        index_shards=shards,
    )


def table_lines(rows: Sequence[Limit], rates: Sequence[int] = RATES) -> list[str]:
    """The capacity table: per limit, utilisation at each rate and where it saturates."""
    head = f"  {'limit':<46} {'quota':>9} {'per img/s':>10}"
    head += "".join(f" {f'@{rate:,}/s':>9}" for rate in rates)
    head += f" {'saturates at':>13}  setting that moves it"
    lines = [head]
    first = binding(rows)
    for row in rows:
        cells = "".join(f" {_percent(row.utilisation(rate)):>9}" for rate in rates)
        mark = " <- binds first" if row is first else ""
        lines.append(
            f"  {row.name:<46} {_number(row.quota):>9} {row.demand:>10.4g}{cells}"
            f" {_number(row.max_rate):>13}/s  {row.setting}{mark}"
        )
    return lines


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%" if value >= 0.01 else f"{value * 100:.1g}%"


def _number(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:,.0f}"
