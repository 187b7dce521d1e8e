"""Price per image and capacity of the AWS path, from a real run of the local pipeline.

    .venv/bin/python bench/cost.py [--images 200] [--concurrency 8] [--seed 0]
        [--custom-labels-tps 5]

Four passes of the embedded environment (moto, the tiny test model, one Lambda environment
at a time, cdk.json `prod`'s batch size, memory and index shards), each on N fresh images:
tags on (cdk.json's tag set) and off (TAGS), records one at a time (RECORD_CONCURRENCY=1,
the baseline) and concurrently (--concurrency, default cdk.json's record_concurrency). Every
AWS call of the function waits an AWS-like latency (costmodel/latency.py: a latency-only
fault plan) and is counted, attempt by attempt, by the fault injector's journal; a warm-up
image first loads the model, and is not counted.

From each pass: requests per image by service and operation; the SQS side (one SendMessage
per object from S3's notification, and the event source mapping's ReceiveMessage and
DeleteMessageBatch per batch, all billed to the queue's owner); Lambda billed ms per image
(each invocation's handler wall time rounded up to 1 ms, over its records); DynamoDB units
from the items written (infra.table_costs: each item and the entry of each GSI it is in);
the bytes the function logs. Priced with costmodel/prices.py (dated), beside the floor and
Rekognition; then the capacity table (costmodel/capacity.py) under default and raised quotas.

The concurrent passes are the ones priced. The last line reads
`per 1M images: $A tags off, $B tags on`.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import logging
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

sys.path.insert(0, str(Path(__file__).resolve().parent))

import soak  # noqa: E402  (bench/soak.py: images, the tiny model, queue drain)
from costmodel import capacity, prices, pricing, report, usage  # noqa: E402
from costmodel.latency import aws_latency_plan  # noqa: E402

from classifier.contracts import (  # noqa: E402
    LOCAL_ENV,
    MAX_INDEX_SHARDS,
    RESULTS_INDEXES,
    tag_names_text,
)
from classifier.settings import Settings  # noqa: E402
from imgclf.local import deployment_of  # noqa: E402
from imgclf.models import promote, upload_artifact  # noqa: E402
from infra.config import EnvironmentConfig, load_environment  # noqa: E402
from infra.local.environment import HandlerBinding, LocalEnvironment, classifier_handler  # noqa: E402
from infra.local.poller import BatchOutcome  # noqa: E402

PRICED_ENV = "prod"  # memory, batch size and index shards come from this environment
UPLOAD_THREADS = 4
IMAGE_PREFIX = "cost/"


@dataclasses.dataclass(frozen=True)
class PassResult:
    """One pass: its settings, what it measured, and what the local run itself cost."""

    tags: bool
    record_concurrency: int
    measured: usage.Measured
    tags_per_object: float
    moto_seconds: float  # summed time inside moto's answers (not AWS latency)
    seconds: float

    @property
    def label(self) -> str:
        mode = (
            "sequential" if self.record_concurrency == 1 else f"{self.record_concurrency} at once"
        )
        return f"tags {'on' if self.tags else 'off'}, {mode}"


class Capture(io.TextIOBase):
    """stdout while the function runs: swallowed (JSON logs, EMF), its bytes counted."""

    def __init__(self) -> None:
        self.active = False
        self.bytes = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.active:
            self.bytes += len(text.encode())
        return len(text)


class Recorder:
    """Batches (on_batch), message sizes (the handler binding) and time inside moto (botocore
    hooks after the injector's latency) while `active`."""

    def __init__(self) -> None:
        self.active = False
        self.batches: list[usage.Batch] = []
        self.body_bytes: list[int] = []
        self.moto_seconds = 0.0
        self._threads: set[int] = set()
        self._batch_moto: Counter[int] = Counter()  # moto's time per calling thread
        self._lock = threading.Lock()
        self._local = threading.local()

    def on_batch(self, outcome: BatchOutcome) -> None:
        """One worker: every function call since the last batch belongs to this one. The
        batch's own moto time is that of its busiest calling thread (the critical path)."""
        with self._lock:
            if self.active:
                local = max(self._batch_moto.values(), default=0.0)
                threads = max(1, len(self._threads))
                self.batches.append(
                    usage.Batch(outcome.size, outcome.succeeded, outcome.seconds, local, threads)
                )
            self._batch_moto.clear()
            self._threads.clear()

    def binding(self) -> HandlerBinding:
        """The real function's environments, each handler counting the message bodies."""

        def new_environment() -> Any:
            real = classifier_handler().new_environment()  # imported once the env is set

            def handler(event: dict[str, Any], context: Any) -> Any:
                if self.active:
                    with self._lock:
                        self.body_bytes += [len(r["body"].encode()) for r in event["Records"]]
                return real(event, context)

            return handler

        return HandlerBinding(new_environment=new_environment)

    def install(self, events: Any) -> None:
        events.register("before-send", self._sent, unique_id="imgclf-cost-sent")
        events.register("needs-retry", self._answered, unique_id="imgclf-cost-answered")

    def _sent(self, **_: Any) -> None:
        self._local.sent = time.perf_counter()
        with self._lock:
            self._threads.add(threading.get_ident())

    def _answered(self, **_: Any) -> None:
        sent = getattr(self._local, "sent", None)
        if sent is not None and self.active:
            elapsed = time.perf_counter() - sent
            with self._lock:
                self.moto_seconds += elapsed
                self._batch_moto[threading.get_ident()] += elapsed
        self._local.sent = None


def queued_messages(sqs: Any, queue_url: str, *, expected: int, wait_seconds: float = 5.0) -> int:
    """Messages S3's notifications put on the queue (the count is approximate and refreshed
    every 0.1 s, so it is read until it reaches `expected` or stops changing)."""
    deadline = time.monotonic() + wait_seconds
    count = -1
    while time.monotonic() < deadline:
        latest = soak.queue_counts(sqs, queue_url)[soak.QUEUE_ATTRIBUTES[0]]
        if latest >= expected or latest == count:
            return int(latest)
        count = latest
        time.sleep(0.3)
    return count


def pass_config() -> EnvironmentConfig:
    """The local environment with the priced environment's batch, timeout, memory, shards."""
    priced = load_environment(PRICED_ENV)
    return dataclasses.replace(
        load_environment(LOCAL_ENV),
        batch_size=priced.batch_size,
        batch_window_seconds=priced.batch_window_seconds,
        function_timeout_seconds=priced.function_timeout_seconds,
        function_memory_mb=priced.function_memory_mb,
        index_shards=priced.index_shards,
        colour_tags=priced.colour_tags,
        tags=priced.tags,
        log_level=priced.log_level,
    )


def run_pass(
    images: int,
    *,
    tags: bool,
    record_concurrency: int,
    seed: int,
    artifact: Path,
    home: Path,
    capture: Capture,
    say: Callable[[str], None],
) -> PassResult:
    config = pass_config()
    settings = {
        "RECORD_CONCURRENCY": str(record_concurrency),
        # Tags on: the priced environment's tag set (cdk.json tags, or its older flags).
        "TAGS": tag_names_text(config.tag_names if tags else frozenset()),
        "POWERTOOLS_METRICS_DISABLED": "false",
        "POWERTOOLS_LOG_LEVEL": config.log_level,  # the priced environment's
    }
    recorder = Recorder()
    environment = LocalEnvironment(
        config,
        workers=1,
        visibility_timeout_seconds=2 * config.function_timeout_seconds,
        handler=recorder.binding(),
        home=home,
        write_state_file=False,
        function_settings=settings,
        quiet_function=False,
        on_batch=recorder.on_batch,
        faults=aws_latency_plan(seed),
    ).start()
    try:
        assert environment.injector is not None and environment.poller is not None
        assert boto3.DEFAULT_SESSION is not None
        recorder.install(boto3.DEFAULT_SESSION.events)  # before the function builds clients
        deployment = deployment_of(environment)
        upload_artifact(deployment, artifact, soak.FIRST_MODEL)
        promote(deployment, soak.FIRST_MODEL)
        s3 = environment.client("s3", soak.HARNESS_CLIENT_CONFIG)
        sqs = environment.client("sqs", soak.HARNESS_CLIENT_CONFIG)
        bucket = deployment.images_bucket

        # Warm-up: the model is loaded and the clients built; then the poller waits.
        s3.put_object(Bucket=bucket, Key="warm-up.jpg", Body=soak.colour_jpeg("red", seed))
        soak.drain(sqs, deployment.queue_url, timeout_seconds=60, stable_seconds=1.0)
        environment.poller.stop()
        before = Counter(environment.injector.journal.attempts())

        colours = list(soak.COLOURS)
        keys = [f"{IMAGE_PREFIX}{i:05d}.jpg" for i in range(images)]

        def upload(index: int) -> None:
            body = soak.colour_jpeg(colours[index % len(colours)], seed * 1_000_003 + index)
            s3.put_object(Bucket=bucket, Key=keys[index], Body=body)

        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            list(pool.map(upload, range(images)))
        enqueued = queued_messages(sqs, deployment.queue_url, expected=images)

        recorder.active = capture.active = True
        capture.bytes = 0
        started = time.monotonic()
        environment.poller.start()
        drained, left = soak.drain(
            sqs, deployment.queue_url, timeout_seconds=max(120.0, images), stable_seconds=1.0
        )
        seconds = time.monotonic() - started - 1.0
        recorder.active = capture.active = False
        if not drained:
            raise RuntimeError(f"the queue did not drain: {left}")
        attempts = Counter(environment.injector.journal.attempts())
        attempts.subtract(before)

        table = environment.client("dynamodb").get_paginator("scan")
        plain = TypeDeserializer()
        items = [
            {name: plain.deserialize(value) for name, value in item.items()}
            for page in table.paginate(TableName=deployment.results_table)
            for item in page["Items"]
            if item.get("key", {}).get("S", "").startswith(IMAGE_PREFIX)
        ]
        ours = 0
        for key in keys:
            tag_set = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
            ours += sum(tag["Key"].startswith("imgclf:") for tag in tag_set)
    finally:
        environment.stop()
    measured = usage.Measured(
        images=images,
        enqueued=enqueued,
        attempts=dict(+attempts),
        batches=list(recorder.batches),
        body_bytes=list(recorder.body_bytes),
        items=items,
        indexes=RESULTS_INDEXES,
        log_bytes=capture.bytes,
    )
    result = PassResult(
        tags=tags,
        record_concurrency=record_concurrency,
        measured=measured,
        tags_per_object=ours / images,
        moto_seconds=recorder.moto_seconds,
        seconds=seconds,
    )
    failed = sum(b.records - b.succeeded for b in measured.batches)
    say(
        f"  {result.label}: {len(items)} items, {len(measured.batches)} invocations, "
        f"{failed} records failed, {seconds:.1f} s"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200, help="images per pass (200)")
    priced = load_environment(PRICED_ENV)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=priced.record_concurrency,
        help=f"RECORD_CONCURRENCY of the priced passes ({PRICED_ENV}'s: "
        f"{priced.record_concurrency})",
    )
    parser.add_argument("--seed", type=int, default=0, help="images and latency draws (0)")
    parser.add_argument(
        "--custom-labels-tps",
        type=float,
        default=prices.CUSTOM_LABELS_IMAGES_PER_SECOND_PER_UNIT,
        help="assumed images/s of one Custom Labels inference unit (5)",
    )
    args = parser.parse_args(argv)
    if args.images < 1 or args.concurrency < 1:
        parser.error("--images and --concurrency must be at least 1")
    out = sys.stdout

    def say(line: str = "") -> None:
        print(line, file=out, flush=True)

    memory_mb = load_environment(PRICED_ENV).function_memory_mb
    refresh = Settings.model_refresh_seconds
    capture = Capture()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    say(
        f"cost bench: {args.images} images per pass, {PRICED_ENV} settings "
        f"({memory_mb} MB, batch {pass_config().batch_size}), AWS-like latency, seed {args.seed}"
    )
    results: dict[tuple[bool, int], PassResult] = {}
    sys.stdout = capture  # the function's logs and metrics: counted, not shown
    try:
        with tempfile.TemporaryDirectory(prefix="imgclf-cost-") as tmp:
            artifact = soak.tiny_artifacts(Path(tmp))[soak.FIRST_MODEL]
            for tags in (True, False):
                for concurrency in (1, args.concurrency):
                    results[(tags, concurrency)] = run_pass(
                        args.images,
                        tags=tags,
                        record_concurrency=concurrency,
                        seed=args.seed,
                        artifact=artifact,
                        home=Path(tmp),
                        capture=capture,
                        say=say,
                    )
    finally:
        sys.stdout = out
    for line in report_lines(results, args, memory_mb=memory_mb, refresh_seconds=refresh):
        say(line)
    return 0


def records_at_once(result: PassResult) -> float:
    """Mean threads that made the function's calls per invocation (1 = one record at a time)."""
    batches = result.measured.batches
    return sum(b.threads for b in batches) / len(batches) if batches else 0.0


def report_lines(
    results: dict[tuple[bool, int], PassResult],
    args: argparse.Namespace,
    *,
    memory_mb: int,
    refresh_seconds: float,
) -> list[str]:
    on, off = results[(True, args.concurrency)], results[(False, args.concurrency)]
    on_seq, off_seq = results[(True, 1)], results[(False, 1)]
    ordered = [on_seq, on, off_seq, off]
    lines = ["", "requests per image (HTTP attempts; the queue's side from the batches):"]
    lines += report.requests_table({r.label: usage.calls_per_image(r.measured) for r in ordered})
    lines += [
        "",
        f"Lambda billed ms per image ({memory_mb} MB): each invocation's handler wall time, "
        "rounded up to 1 ms, over its records; priced without moto's own answer time "
        "(measured here in brackets):",
    ]
    for sequential, concurrent in ((on_seq, on), (off_seq, off)):
        seq, con = (
            (
                usage.usage_of(r.measured, memory_mb).lambda_billed_ms,
                usage.usage_of(r.measured, memory_mb, local=True).lambda_billed_ms,
            )
            for r in (sequential, concurrent)
        )
        lines.append(
            f"  {sequential.label}: {seq[0]:.1f} ms ({seq[1]:.1f}); {concurrent.label}: "
            f"{con[0]:.1f} ms ({con[1]:.1f}); sequential / concurrent = "
            f"{seq[0] / con[0]:.2f} ({seq[1] / con[1]:.2f}); records handled at once: "
            f"{records_at_once(concurrent):.1f}"
        )
    usages = {r.label: usage.usage_of(r.measured, memory_mb) for r in (off, on)}
    body = max(max(r.measured.body_bytes, default=1) for r in ordered)
    floors = {
        "floor, tags off": pricing.floor_usage(tags=False, message_bytes=body),
        "floor, tags on": pricing.floor_usage(tags=True, message_bytes=body),
    }
    lines += ["", f"dollars per 1M images (us-east-1 prices read {prices.PRICES_READ_ON}):"]
    table, totals = report.cost_table({**usages, **floors})
    lines += table
    tags_off, tags_on = totals[off.label], totals[on.label]
    _, measured_totals = report.cost_table(
        {r.label: usage.usage_of(r.measured, memory_mb, local=True) for r in (off, on)}
    )
    lines.append(
        f"  with Lambda's duration as measured here (moto's time left in): "
        f"${measured_totals[off.label]:.2f} tags off, ${measured_totals[on.label]:.2f} tags on"
    )
    lines += report.comparison_lines(
        tags_off,
        tags_on,
        totals["floor, tags off"],
        totals["floor, tags on"],
        args.custom_labels_tps,
    )
    lines.append(
        f"  tag storage (separate, monthly): {on.tags_per_object:.2f} imgclf tags per object = "
        f"${pricing.tag_storage_per_million_objects_month(on.tags_per_object):.2f} per month "
        f"per 1M tagged objects"
    )
    profile = usage.profile_of(on.measured, usages[on.label], model_refresh_seconds=refresh_seconds)
    default = capacity.Quotas(
        name=PRICED_ENV, max_concurrency=load_environment(PRICED_ENV).max_concurrency
    )
    raised = capacity.raised(default, profile, max_shards=MAX_INDEX_SHARDS)
    lines += ["", f"capacity ({on.label}; live ingest counts the upload's PUT, a backfill not):"]
    lines += report.capacity_lines(profile, [default, raised])
    lines.append(pricing.last_line(tags_off, tags_on))
    return lines


if __name__ == "__main__":
    sys.exit(main())
