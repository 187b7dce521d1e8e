"""Price per image and capacity of the AWS path, from a real run of the local pipeline.

    .venv/bin/python bench/cost.py [--model generic|tiny] [--images 200] [--concurrency 8]
        [--seed 0] [--custom-labels-tps 5]

Four passes of the embedded environment (moto, one Lambda environment at a time, cdk.json
`prod`'s batch size, memory and index shards), each on N fresh images under distinct keys:
tags on (cdk.json's tag set) and off (TAGS), records one at a time (RECORD_CONCURRENCY=1,
the baseline) and concurrently (--concurrency, default cdk.json's record_concurrency). Every
AWS call of the function waits an AWS-like latency (costmodel/latency.py: a latency-only
fault plan) and is counted, attempt by attempt, by the fault injector's journal; a warm-up
image first loads the model, and is not counted.

The model (--model): `generic` (the default) is the generic labeller (EfficientNet-Lite0
int8 and the label hierarchy; imgclf.model_generic.home_generic, under $IMGCLF_HOME/cache,
built once per code version) on real photographs: the generic photo set (training/datasets/
generic_photos.py, both splits) and the real animal photos (training/datasets/photos.py,
heldout), shuffled by --seed and cycled to N. Its items carry real `labels` maps (the
function's default GENERIC_MIN_CONFIDENCE and MAX_LABELS), so the write units and Lambda ms
are those of generic labels. `tiny` is the tests' red/green/blue model on generated
single-colour JPEGs: the figures before generic labels ($3.00 / $8.00 goals), for
comparison.

From each pass: requests per image by service and operation; the SQS side (one SendMessage
per object from S3's notification, and the event source mapping's ReceiveMessage and
DeleteMessageBatch per batch, all billed to the queue's owner); Lambda billed ms per image
(each invocation's handler wall time without moto's own answer time, but never less than the
CPU time of the function's threads, since the priced memory buys one vCPU where this machine
may have more; rounded up to 1 ms, over its records); DynamoDB units from the items written
(infra.table_costs: each item and the entry of each GSI in contracts.RESULTS_INDEXES it is
in), their sizes printed; the bytes the function logs. The label registry's UpdateItems
(once per Lambda environment and index value: a short pass's one environment meets every
value for the first time, a long run's environments almost none) are priced on a line of
their own, at the registry item's size, and left out of the totals. Lambda ms are measured
on this machine's CPU (printed with its AVX2 / AVX-512 VNNI flags and the load average before
and after), while prod runs arm64. Priced with costmodel/prices.py (dated), beside the floor
and Rekognition; then the capacity table (costmodel/capacity.py) under default and raised
quotas.

The concurrent passes are the ones priced. The last line reads
`per 1M images: $A tags off, $B tags on`.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from costmodel import capacity, prices, usage  # noqa: E402
from costmodel.host_cpu import cpu_flag_text, host_cpu  # noqa: E402
from costmodel.latency import aws_latency_plan  # noqa: E402
from costmodel.photo_uploads import IMAGE_PREFIX, photo_keys, photo_mix  # noqa: E402
from costmodel.recording import Capture, Recorder  # noqa: E402
from costmodel.summary import PassResult, report_lines  # noqa: E402

# bench/soak/: the tiny model, its colour images, the queue's counts and drain
from soak.model_versions import tiny_artifacts  # noqa: E402
from soak.parameters import FIRST_MODEL, HARNESS_CLIENT_CONFIG  # noqa: E402
from soak.queues import QUEUE_ATTRIBUTES, drain, queue_counts  # noqa: E402
from soak.workload import COLOURS, colour_jpeg  # noqa: E402

from classifier.contracts import (  # noqa: E402
    LABEL_REGISTRY_PK,
    LABEL_REGISTRY_VALUES,
    LOCAL_ENV,
    RESULTS_INDEXES,
    TABLE_PARTITION_KEY,
    is_removed,
    tag_names_text,
)
from classifier.settings import Settings  # noqa: E402
from imgclf.deployment import Deployment  # noqa: E402
from imgclf.local import deployment_of  # noqa: E402
from imgclf.models import promote, upload_artifact  # noqa: E402
from infra.environment_config import EnvironmentConfig, load_environment  # noqa: E402
from infra.local.environment import LocalEnvironment  # noqa: E402

PRICED_ENV = "prod"  # memory, batch size and index shards come from this environment
UPLOAD_THREADS = 4
MODELS = ("generic", "tiny")
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})


@dataclasses.dataclass(frozen=True)
class Workload:
    """The model a pass runs and the images it uploads."""

    model: str  # one of MODELS
    artifact: Path  # the packed model.tar.gz
    version: str
    photos: tuple[Path, ...] = ()  # real photographs (generic); none: generated colours (tiny)

    def uploads(self, images: int, seed: int) -> Sequence[tuple[str, Path | None]]:
        """Each upload's key and its photo (None: a generated colour image)."""
        if not self.photos:
            return [(f"{IMAGE_PREFIX}{i:05d}.jpg", None) for i in range(images)]
        keyed: list[tuple[str, Path]] = photo_keys(photo_mix(self.photos, images, seed))
        return keyed

    def body(self, index: int, photo: Path | None, seed: int) -> bytes:
        if photo is not None:
            return photo.read_bytes()
        colours = list(COLOURS)
        body: bytes = colour_jpeg(colours[index % len(colours)], seed * 1_000_003 + index)
        return body


def real_photos() -> tuple[Path, ...]:
    """The generic photo set (both splits) and the held-out real animal photos."""
    from training.datasets import generic_photos, photos

    found = [path for split in ("tune", "heldout") for path in generic_photos.photo_words(split)]
    found += [
        path
        for path in photos.heldout_dir().rglob("*")
        if path.is_file() and path.suffix.lower() in PHOTO_SUFFIXES
    ]
    return tuple(sorted(found))


def workload(model: str, scratch: Path) -> Workload:
    """The packed model and the images of `model` (MODELS)."""
    if model == "tiny":
        return Workload("tiny", tiny_artifacts(scratch)[FIRST_MODEL], FIRST_MODEL)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from imgclf.model_generic import home_generic

    generic = home_generic()
    return Workload("generic", generic.tarball, generic.version, real_photos())


def host_line() -> str:
    """This machine's CPU (lscpu), the flags int8 inference uses, and the load average."""
    model, flags = host_cpu()
    return (
        f"CPU: {model} ({platform.machine()}, {os.cpu_count()} cores; "
        f"{cpu_flag_text(flags)}); load average {load_text()}. Lambda ms are measured on this "
        "CPU; prod runs arm64 (Graviton), whose int8 inference time differs"
    )


def load_text() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def queued_messages(sqs: Any, queue_url: str, *, expected: int, wait_seconds: float = 5.0) -> int:
    """Messages S3's notifications put on the queue (the count is approximate and refreshed
    every 0.1 s, so it is read until it reaches `expected` or stops changing)."""
    deadline = time.monotonic() + wait_seconds
    count = -1
    while time.monotonic() < deadline:
        latest = queue_counts(sqs, queue_url)[QUEUE_ATTRIBUTES[0]]
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
        tags=priced.tags,
        log_level=priced.log_level,
    )


def run_pass(
    images: int,
    *,
    tags: bool,
    record_concurrency: int,
    seed: int,
    work: Workload,
    home: Path,
    capture: Capture,
    say: Callable[[str], None],
) -> PassResult:
    """One pass: the model deployed, a warm-up image, then `images` uploads processed while
    the recorder and the capture count what the function does."""
    recorder = Recorder()
    environment = start_environment(tags, record_concurrency, seed, home, recorder)
    try:
        assert environment.injector is not None and environment.poller is not None
        assert boto3.DEFAULT_SESSION is not None
        recorder.install(boto3.DEFAULT_SESSION.events)  # before the function builds clients
        deployment = deployment_of(environment)
        upload_artifact(deployment, work.artifact, work.version)
        promote(deployment, work.version, force=True)  # priced, not judged: no gate
        s3 = environment.client("s3", HARNESS_CLIENT_CONFIG)
        sqs = environment.client("sqs", HARNESS_CLIENT_CONFIG)
        warm_up(environment, deployment, s3, sqs, work, seed)
        before = Counter(environment.injector.journal.attempts())
        keys, enqueued = upload(s3, sqs, deployment, work, images, seed)
        seconds = process(environment, deployment.queue_url, sqs, recorder, capture, images)
        attempts = Counter(environment.injector.journal.attempts())
        attempts.subtract(before)
        items, registry = result_items(environment, deployment.results_table)
        ours = sum(imgclf_tags(s3, deployment.images_bucket, key) for key in keys)
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
        registry_writes=recorder.registry_writes,
        registry_values=sorted(str(value) for value in registry.get(LABEL_REGISTRY_VALUES, ())),
    )
    result = PassResult(
        tags, record_concurrency, measured, ours / images, recorder.moto_seconds, seconds
    )
    failed = sum(b.records - b.succeeded for b in measured.batches)
    say(
        f"  {result.label}: {len(items)} items, {len(measured.batches)} invocations, "
        f"{failed} records failed, {seconds:.1f} s"
    )
    return result


def start_environment(
    tags: bool, record_concurrency: int, seed: int, home: Path, recorder: Recorder
) -> LocalEnvironment:
    """The priced environment's settings, one worker, AWS-like latency, the recorder's hooks."""
    config = pass_config()
    settings = {
        "RECORD_CONCURRENCY": str(record_concurrency),
        # Tags on: the priced environment's tag set (cdk.json tags, or its older flags).
        "TAGS": tag_names_text(config.tag_names if tags else frozenset()),
        "POWERTOOLS_METRICS_DISABLED": "false",
        "POWERTOOLS_LOG_LEVEL": config.log_level,  # the priced environment's
    }
    return LocalEnvironment(
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


def warm_up(
    environment: LocalEnvironment,
    deployment: Deployment,
    s3: Any,
    sqs: Any,
    work: Workload,
    seed: int,
) -> None:
    """The model is loaded and the clients built; then the poller waits."""
    assert environment.poller is not None
    photo = work.photos[0] if work.photos else None
    s3.put_object(
        Bucket=deployment.images_bucket,
        Key="warm-up" + (photo.suffix.lower() if photo else ".jpg"),
        Body=work.body(0, photo, seed + 1),
    )
    drain(sqs, deployment.queue_url, timeout_seconds=120, stable_seconds=1.0)
    environment.poller.stop()


def upload(
    s3: Any, sqs: Any, deployment: Deployment, work: Workload, images: int, seed: int
) -> tuple[list[str], int]:
    """Every image uploaded while the poller waits; their keys and the messages queued."""
    uploads = work.uploads(images, seed)

    def put(index: int) -> None:
        key, photo = uploads[index]
        s3.put_object(Bucket=deployment.images_bucket, Key=key, Body=work.body(index, photo, seed))

    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        list(pool.map(put, range(images)))
    enqueued = queued_messages(sqs, deployment.queue_url, expected=images)
    return [key for key, _ in uploads], enqueued


def process(
    environment: LocalEnvironment,
    queue_url: str,
    sqs: Any,
    recorder: Recorder,
    capture: Capture,
    images: int,
) -> float:
    """The poller started with the recorder and the capture on, until the queue is drained;
    the seconds it took."""
    assert environment.poller is not None
    recorder.active = capture.active = True
    capture.bytes = 0
    started = time.monotonic()
    environment.poller.start()
    drained, left = drain(
        sqs,
        queue_url,
        timeout_seconds=max(120.0, images),
        stable_seconds=1.0,
    )
    seconds = time.monotonic() - started - 1.0
    recorder.active = capture.active = False
    if not drained:
        raise RuntimeError(f"the queue did not drain: {left}")
    return seconds


def result_items(
    environment: LocalEnvironment, table: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The pass's result items, and the label registry's item ({} if there is none)."""
    pages = environment.client("dynamodb").get_paginator("scan")
    plain = TypeDeserializer()
    scanned = [
        {name: plain.deserialize(value) for name, value in item.items()}
        for page in pages.paginate(TableName=table)
        for item in page["Items"]
    ]
    items = [
        item
        for item in scanned
        if str(item.get("key", "")).startswith(IMAGE_PREFIX) and not is_removed(item)
    ]
    registry = next(
        (item for item in scanned if item.get(TABLE_PARTITION_KEY) == LABEL_REGISTRY_PK), {}
    )
    return items, registry


def imgclf_tags(s3: Any, bucket: str, key: str) -> int:
    """How many imgclf tags the object carries."""
    tag_set = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return sum(tag["Key"].startswith("imgclf:") for tag in tag_set)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        choices=MODELS,
        default="generic",
        help="generic: the generic labeller on real photographs (default); tiny: the test "
        "model on generated colours (the figures before generic labels)",
    )
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
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = sys.stdout

    def say(line: str = "") -> None:
        print(line, file=out, flush=True)

    priced = load_environment(PRICED_ENV)
    capture = Capture()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    results: dict[tuple[bool, int], PassResult] = {}
    with tempfile.TemporaryDirectory(prefix="imgclf-cost-") as tmp:
        work = workload(args.model, Path(tmp))
        images = (
            f"{len(work.photos)} real photographs, shuffled (seed {args.seed}) and cycled"
            if work.photos
            else "generated single-colour JPEGs"
        )
        say(
            f"cost bench: {args.images} images per pass, {PRICED_ENV} settings "
            f"({priced.function_memory_mb} MB, batch {pass_config().batch_size}), AWS-like "
            f"latency, seed {args.seed}; model {work.model} ({work.version}) on {images}"
        )
        say(host_line())
        sys.stdout = capture  # the function's logs and metrics: counted, not shown
        try:
            for tags in (True, False):
                for concurrency in (1, args.concurrency):
                    results[(tags, concurrency)] = run_pass(
                        args.images,
                        tags=tags,
                        record_concurrency=concurrency,
                        seed=args.seed,
                        work=work,
                        home=Path(tmp),
                        capture=capture,
                        say=say,
                    )
        finally:
            sys.stdout = out
    say(f"load average after the passes: {load_text()}")
    quotas = capacity.Quotas(name=PRICED_ENV, max_concurrency=priced.max_concurrency)
    summary = report_lines(
        results,
        args,
        memory_mb=priced.function_memory_mb,
        refresh_seconds=Settings.model_refresh_seconds,
        quotas=quotas,
    )
    for line in summary:
        say(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
