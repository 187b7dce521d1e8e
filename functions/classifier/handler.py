"""Lambda entry point: SQS batch of S3 notifications -> the core -> partial batch response.

Thin: it parses records, calls the core once per object event and reports failed records
through `batchItemFailures`. Records run RECORD_CONCURRENCY at a time, those of one object
in batch order (`scheduling.run_in_key_order`). The composition root (`runtime`) reads the
settings and builds the real adapters once per process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from .adapters import (
    DynamoResults,
    ObjectGoneError,
    RetryPolicy,
    S3Artifacts,
    S3Objects,
    SsmModelPointer,
)
from .adapters import client as aws_client
from .adapters import resource as aws_resource
from .classify import Classifier, Outcome, Result
from .events import ObjectEvent, parse_body
from .imaging import ImageLimits
from .model import ModelStore
from .scheduling import run_in_key_order
from .settings import Settings

logger = Logger(service="imgclf")
metrics = Metrics(namespace="imgclf", service="imgclf")
# Powertools keeps one metric set per process; the local poller calls this handler from
# several threads, so each invocation collects its own figures and flushes them under a lock.
_metrics_lock = threading.Lock()


@dataclass(frozen=True)
class Runtime:
    """What one process builds once: the core and the model store it reads from."""

    classifier: Classifier
    models: ModelStore
    record_concurrency: int


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    """The composition root: settings, boto3 adapters and the model store, once per process."""
    settings = Settings.from_env()
    policy = RetryPolicy(mode=settings.retry_mode, max_attempts=settings.max_attempts)
    s3 = aws_client("s3", policy)
    models = ModelStore(
        read_pointer=SsmModelPointer(aws_client("ssm", policy), settings.model_pointer_parameter),
        fetch_artifact=S3Artifacts(s3),
        cache_dir=Path(settings.model_cache_dir),
        refresh_seconds=settings.model_refresh_seconds,
    )
    classifier = Classifier(
        objects=S3Objects(s3),
        results=DynamoResults(aws_resource("dynamodb", policy), settings.results_table),
        current_model=models.current,
        limits=ImageLimits(
            max_bytes=settings.max_image_bytes,
            max_pixels=settings.max_image_pixels,
            formats=settings.allowed_formats,
        ),
        gone_errors=(ObjectGoneError,),
        tag_names=settings.tags,
        top_k=settings.top_k,
        index_shards=settings.index_shards,
    )
    return Runtime(
        classifier=classifier, models=models, record_concurrency=settings.record_concurrency
    )


def reset_runtime() -> None:
    """Forget the cached runtime (tests and the local environment switch environments)."""
    runtime.cache_clear()


# A record is not started with less than this share of the invocation's time left: past the
# function timeout Lambda stops the function and the whole batch comes back, so the records
# it cannot finish are failed on their own instead (partial batch response), and retried.
TIME_RESERVE_SHARE = 0.2


class OutOfTimeError(TimeoutError):
    """Too little of the invocation's time is left to start this record."""


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Process one SQS batch; failed records come back in `batchItemFailures`."""
    setup = runtime()
    records = [_Record.parse(SQSRecord(raw)) for raw in event["Records"]]
    outcomes: list[Result] = []
    lock = threading.Lock()
    reserve_ms = context.get_remaining_time_in_millis() * TIME_RESERVE_SHARE

    def before_start(_: _Record) -> None:
        if context.get_remaining_time_in_millis() < reserve_ms:
            raise OutOfTimeError("left for the next invocation: too little time remains")

    def handle_record(record: _Record) -> None:
        for result in record.handle(setup.classifier):
            with lock:
                outcomes.append(result)

    failures = run_in_key_order(
        records,
        keys=lambda record: record.keys,
        work=handle_record,
        concurrency=setup.record_concurrency,
        executor=_record_pool(setup.record_concurrency),
        before_start=before_start,
    )
    for index, error in sorted(failures.items()):
        logger.warning(
            "record failed, left for a retry",
            extra={"message_id": records[index].message_id, "error": repr(error)[:500]},
        )
    _publish_metrics(outcomes, len(failures))
    return {
        "batchItemFailures": [
            {"itemIdentifier": records[index].message_id} for index in sorted(failures)
        ]
    }


@dataclass(frozen=True)
class _Record:
    """One SQS record: its object events, or why its body cannot be read."""

    message_id: str
    events: tuple[ObjectEvent, ...]
    malformed: Exception | None = None

    @classmethod
    def parse(cls, record: SQSRecord) -> _Record:
        try:
            return cls(record.message_id, tuple(parse_body(record.body)))
        except Exception as error:  # failed when handled, so it ends in the DLQ
            return cls(record.message_id, (), error)

    @property
    def keys(self) -> set[tuple[str, str]]:
        """The objects it touches: records sharing one run in batch order, one at a time."""
        return {(event.bucket, event.key) for event in self.events}

    def handle(self, classifier: Classifier) -> Iterator[Result]:
        if self.malformed is not None:
            raise self.malformed
        for object_event in self.events:
            result = classifier.handle(object_event)
            # DEBUG: the results table is the record of every image; at INFO each line would
            # be billed as log ingestion per image (infra.config log_level says per env)
            logger.debug(
                "object handled",
                extra={
                    "outcome": result.outcome.value,
                    "bucket": result.bucket,
                    "key": result.key,
                    "label": result.label,
                    "reason": result.reason,
                    "latency_ms": round(result.latency_ms, 1),
                },
            )
            yield result


# One pool per calling thread, kept across invocations: its threads keep their LiteRT
# interpreters (model.LoadedModel holds one per thread). Lambda calls from one thread; the
# local poller from one per worker, each an execution environment of its own.
_pools = threading.local()


def _record_pool(concurrency: int) -> ThreadPoolExecutor | None:
    if concurrency <= 1:
        return None
    pool: ThreadPoolExecutor | None = getattr(_pools, "pool", None)
    if pool is None or getattr(_pools, "size", 0) != concurrency:
        if pool is not None:
            pool.shutdown(wait=False)
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="imgclf-record")
        _pools.pool, _pools.size = pool, concurrency
    return pool


def _publish_metrics(outcomes: list[Result], failed_records: int) -> None:
    counts = {outcome: 0 for outcome in Outcome}
    for result in outcomes:
        counts[result.outcome] += 1
    with _metrics_lock:
        metrics.add_metric("ImagesClassified", MetricUnit.Count, counts[Outcome.CLASSIFIED])
        metrics.add_metric("ImagesRejected", MetricUnit.Count, counts[Outcome.REJECTED])
        metrics.add_metric("DuplicatesSkipped", MetricUnit.Count, counts[Outcome.DUPLICATE])
        metrics.add_metric("RecordsFailed", MetricUnit.Count, failed_records)
        for result in outcomes:
            if result.outcome in (Outcome.CLASSIFIED, Outcome.REJECTED):
                metrics.add_metric("ImageLatency", MetricUnit.Milliseconds, result.latency_ms)
        load_ms = runtime().models.take_load_ms()
        if load_ms is not None:
            metrics.add_metric("ModelLoadTime", MetricUnit.Milliseconds, load_ms)
        metrics.flush_metrics()
        # With POWERTOOLS_METRICS_DISABLED, flush keeps the set; never let it grow across calls.
        metrics.clear_metrics()
