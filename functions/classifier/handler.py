"""Lambda entry point: SQS batch of S3 notifications -> the core -> partial batch response.

Thin: Powertools' public API for the logger, the metrics (`log_metrics`) and the SQS record
data class, and the batch loop owned by `sqs_batch.handle_batch` (RECORD_CONCURRENCY records
at once, those of one object in batch order; the failed ones in `batchItemFailures`). One
`FunctionEnvironment` is one Lambda execution environment: its runtime (settings, adapters,
the model store), metrics (EphemeralMetrics: its own set) and record threads. Lambda builds
one per process (`lambda_handler`); the local poller one per worker, so nothing here is
shared between concurrent invocations and nothing needs a lock.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSEvent, SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from . import png_unfilter
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
from .contracts import (
    METRIC_CLASSIFIED,
    METRIC_DUPLICATES,
    METRIC_LATENCY,
    METRIC_MODEL_LOAD,
    METRIC_MODEL_LOAD_FAILED,
    METRIC_RECORDS_FAILED,
    METRIC_REJECTED,
    METRICS_NAMESPACE,
    SERVICE_NAME,
)
from .events import parse_body
from .imaging import ImageLimits
from .model_store import ModelStore
from .settings import Settings
from .sqs_batch import handle_batch

logger = Logger(service=SERVICE_NAME)

# A record is not started with less than this share of the invocation's time left: past the
# function timeout Lambda stops the function and the whole batch comes back, so the records
# it cannot finish are failed on their own instead (partial batch response), and retried.
TIME_RESERVE_SHARE = 0.2


class OutOfTimeError(TimeoutError):
    """Too little of the invocation's time is left to start this record."""


@dataclass(frozen=True)
class Runtime:
    """What one process builds once: the core and the model store it reads from."""

    classifier: Classifier
    models: ModelStore
    record_concurrency: int


def build_runtime() -> Runtime:
    """The composition root: settings, boto3 adapters and the model store, once per
    execution environment."""
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
        labelling=settings.labelling,
        index_shards=settings.index_shards,
    )
    return Runtime(
        classifier=classifier, models=models, record_concurrency=settings.record_concurrency
    )


class FunctionEnvironment:
    """One execution environment: built cold, its runtime kept across invocations."""

    def __init__(self, build: Callable[[], Runtime] = build_runtime) -> None:
        self._build = build
        self._runtime: Runtime | None = None
        self._pool: ThreadPoolExecutor | None = None  # its threads keep their interpreters
        # The `service` dimension is the environment's (POWERTOOLS_SERVICE_NAME, imgclf-<env>)
        service = os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE_NAME
        self.metrics = EphemeralMetrics(namespace=METRICS_NAMESPACE, service=service)
        self.handler = logger.inject_lambda_context(clear_state=True)(
            self.metrics.log_metrics(self._handle)
        )

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        response: dict[str, Any] = self.handler(event, context)
        return response

    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = self._build()
            if not png_unfilter.available():  # the image's build stage failed to ship it
                logger.warning(
                    "native PNG unfilter not loaded: PNGs decode with libspng, about 2x slower",
                    extra={"library": str(png_unfilter.LIBRARY)},
                )
        return self._runtime

    def _handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        setup = self.runtime()
        self.metrics.clear_metrics()  # POWERTOOLS_METRICS_DISABLED: flushing keeps the set
        batch = handle_batch(
            list(SQSEvent(event).records),
            handle=lambda record: list(_handle_record(record, setup.classifier)),
            concurrency=setup.record_concurrency,
            executor=self._record_pool(setup.record_concurrency),
            before_start=_time_check(context),
        )
        for message_id, error in batch.failures:
            logger.warning(
                "record failed, left for a retry",
                extra={"message_id": message_id, "error": repr(error)[:500]},
            )
        self._add_metrics(batch.results, len(batch.failures), setup.models)
        return batch.response()

    def _record_pool(self, concurrency: int) -> ThreadPoolExecutor | None:
        if concurrency <= 1:
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="imgclf-record")
        return self._pool

    def _add_metrics(self, results: list[Result], failed: int, models: ModelStore) -> None:
        counts = {outcome: 0 for outcome in Outcome}
        for result in results:
            counts[result.outcome] += 1
        self.metrics.add_metric(METRIC_CLASSIFIED, MetricUnit.Count, counts[Outcome.CLASSIFIED])
        self.metrics.add_metric(METRIC_REJECTED, MetricUnit.Count, counts[Outcome.REJECTED])
        self.metrics.add_metric(METRIC_DUPLICATES, MetricUnit.Count, counts[Outcome.DUPLICATE])
        self.metrics.add_metric(METRIC_RECORDS_FAILED, MetricUnit.Count, failed)
        for result in results:
            if result.outcome in (Outcome.CLASSIFIED, Outcome.REJECTED):
                self.metrics.add_metric(METRIC_LATENCY, MetricUnit.Milliseconds, result.latency_ms)
        load_ms = models.take_load_ms()
        if load_ms is not None:
            self.metrics.add_metric(METRIC_MODEL_LOAD, MetricUnit.Milliseconds, load_ms)
        load_failures = models.take_load_failures()
        self.metrics.add_metric(METRIC_MODEL_LOAD_FAILED, MetricUnit.Count, load_failures)


def _time_check(context: LambdaContext) -> Callable[[], None]:
    reserve_ms = context.get_remaining_time_in_millis() * TIME_RESERVE_SHARE

    def check() -> None:
        if context.get_remaining_time_in_millis() < reserve_ms:
            raise OutOfTimeError("left for the next invocation: too little time remains")

    return check


def _handle_record(record: SQSRecord, classifier: Classifier) -> Iterator[Result]:
    first_delivery = record.attributes.approximate_receive_count == "1"
    for object_event in parse_body(record.body):
        result = classifier.handle(object_event, first_delivery=first_delivery)
        # DEBUG: the results table is the record of every image; at INFO each line would
        # be billed as log ingestion per image (infra.environment_config log_level says per env)
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


# Lambda: one execution environment per process.
_environment = FunctionEnvironment()


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Process one SQS batch; failed records come back in `batchItemFailures`."""
    return _environment(event, context)


def reset_runtime() -> None:
    """A new execution environment for `lambda_handler` (tests switch environments)."""
    global _environment
    _environment = FunctionEnvironment()
