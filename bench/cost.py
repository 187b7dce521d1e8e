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

The model (--model): `generic` (the default) is the generic labeller (EfficientNet-Lite0 int8
and the label hierarchy; imgclf.generic.cached_generic under $IMGCLF_HOME/cache, built once
per code version) on real photographs: the generic photo set (training/datasets/
generic_photos.py, both splits) and the real animal photos (training/datasets/photos.py,
heldout), shuffled by --seed and cycled to N. Its items carry real `labels` maps (the
function's default GENERIC_MIN_CONFIDENCE and MAX_LABELS), so the write units and Lambda ms
are those of generic labels. `tiny` is the tests' red/green/blue model on generated
single-colour JPEGs: the figures before generic labels ($3.00 / $8.00 goals), for comparison.

From each pass: requests per image by service and operation; the SQS side (one SendMessage
per object from S3's notification, and the event source mapping's ReceiveMessage and
DeleteMessageBatch per batch, all billed to the queue's owner); Lambda billed ms per image
(each invocation's handler wall time without moto's own answer time, but never less than the
CPU time of the function's threads, since the priced memory buys one vCPU where this machine
may have more; rounded up to 1 ms, over its records); DynamoDB units from the items written
(infra.table_costs: each item and the entry of each GSI in contracts.RESULTS_INDEXES it is
in), their sizes printed; the bytes the function logs. The label registry's UpdateItems
(once per Lambda environment and by_label value: a short pass's one environment meets every
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
import io
import logging
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

sys.path.insert(0, str(Path(__file__).resolve().parent))

import soak  # noqa: E402  (bench/soak.py: images, the tiny model, queue drain)
from costmodel import capacity, prices, pricing, report, usage  # noqa: E402
from costmodel.latency import aws_latency_plan  # noqa: E402
from costmodel.workload import (  # noqa: E402
    IMAGE_PREFIX,
    cpu_flag_text,
    cpu_flags,
    lscpu_model,
    photo_keys,
    photo_mix,
)

from classifier.contracts import (  # noqa: E402
    LABEL_REGISTRY_PK,
    LABEL_REGISTRY_VALUES,
    LOCAL_ENV,
    MAX_INDEX_SHARDS,
    RESULTS_INDEXES,
    TABLE_PARTITION_KEY,
    tag_names_text,
)
from classifier.settings import Settings  # noqa: E402
from imgclf.local import deployment_of  # noqa: E402
from imgclf.models import promote, upload_artifact  # noqa: E402
from infra.config import EnvironmentConfig, load_environment  # noqa: E402
from infra.local import imgclf_home  # noqa: E402
from infra.local.environment import HandlerBinding, LocalEnvironment, classifier_handler  # noqa: E402
from infra.local.poller import BatchOutcome  # noqa: E402

PRICED_ENV = "prod"  # memory, batch size and index shards come from this environment
UPLOAD_THREADS = 4
MODELS = ("generic", "tiny")
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
GOALS = {
    "generic": (report.GENERIC_GOAL_TAGS_OFF, report.GENERIC_GOAL_TAGS_ON),
    "tiny": (report.GOAL_TAGS_OFF, report.GOAL_TAGS_ON),
}


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
        colours = list(soak.COLOURS)
        body: bytes = soak.colour_jpeg(colours[index % len(colours)], seed * 1_000_003 + index)
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
        return Workload("tiny", soak.tiny_artifacts(scratch)[soak.FIRST_MODEL], soak.FIRST_MODEL)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from imgclf.demo import source_fingerprint
    from imgclf.generic import cached_generic

    generic = cached_generic(imgclf_home() / "cache", source_fingerprint())
    return Workload("generic", generic.tarball, generic.version, real_photos())


def host_line() -> str:
    """This machine's CPU (lscpu), the flags int8 inference uses, and the load average."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        text = ""
    try:
        flags = cpu_flags(Path("/proc/cpuinfo").read_text())
    except OSError:
        flags = set()
    return (
        f"CPU: {lscpu_model(text)} ({platform.machine()}, {os.cpu_count()} cores; "
        f"{cpu_flag_text(flags)}); load average {load_text()}. Lambda ms are measured on this "
        "CPU; prod runs arm64 (Graviton), whose int8 inference time differs"
    )


def load_text() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


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
        self.registry_writes = 0  # the function's UpdateItems of the label registry
        self._cpu_marks: dict[int, float] = {}  # each function thread's CPU at its last call
        self._batch_cpu = 0.0
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
                    usage.Batch(
                        outcome.size,
                        outcome.succeeded,
                        outcome.seconds,
                        local,
                        threads,
                        cpu_seconds=self._batch_cpu,
                    )
                )
            self._batch_moto.clear()
            self._threads.clear()
            self._cpu_marks.clear()
            self._batch_cpu = 0.0

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

    def _cpu(self, event_name: str) -> None:
        """The calling thread's CPU time since its previous AWS call in this batch: the
        function's work between calls (decode, inference, items) and its SDK's. The queue's
        calls (the poller's, the harness's) are not the function's."""
        if ".sqs." in f"{event_name}.":
            return
        now = time.thread_time()
        ident = threading.get_ident()
        with self._lock:
            mark = self._cpu_marks.get(ident)
            if mark is not None and self.active:
                self._batch_cpu += now - mark
            self._cpu_marks[ident] = now

    def _sent(self, event_name: str = "", request: Any = None, **_: Any) -> None:
        self._cpu(event_name)
        if self.active and event_name.endswith("dynamodb.UpdateItem"):
            body = getattr(request, "body", b"") or b""
            text = body.decode() if isinstance(body, bytes) else str(body)
            if f'"{LABEL_REGISTRY_PK}"' in text:
                with self._lock:
                    self.registry_writes += 1
        self._local.sent = time.perf_counter()
        with self._lock:
            self._threads.add(threading.get_ident())

    def _answered(self, event_name: str = "", **_: Any) -> None:
        self._cpu(event_name)
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
    work: Workload,
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
        upload_artifact(deployment, work.artifact, work.version)
        promote(deployment, work.version, force=True)  # priced, not judged: no gate
        s3 = environment.client("s3", soak.HARNESS_CLIENT_CONFIG)
        sqs = environment.client("sqs", soak.HARNESS_CLIENT_CONFIG)
        bucket = deployment.images_bucket

        # Warm-up: the model is loaded and the clients built; then the poller waits.
        warm_up = work.photos[0] if work.photos else None
        s3.put_object(
            Bucket=bucket,
            Key="warm-up" + (warm_up.suffix.lower() if warm_up else ".jpg"),
            Body=work.body(0, warm_up, seed + 1),
        )
        soak.drain(sqs, deployment.queue_url, timeout_seconds=120, stable_seconds=1.0)
        environment.poller.stop()
        before = Counter(environment.injector.journal.attempts())

        uploads = work.uploads(images, seed)
        keys = [key for key, _ in uploads]

        def upload(index: int) -> None:
            key, photo = uploads[index]
            s3.put_object(Bucket=bucket, Key=key, Body=work.body(index, photo, seed))

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
        scanned = [
            {name: plain.deserialize(value) for name, value in item.items()}
            for page in table.paginate(TableName=deployment.results_table)
            for item in page["Items"]
        ]
        items = [item for item in scanned if str(item.get("key", "")).startswith(IMAGE_PREFIX)]
        registry = next(
            (item for item in scanned if item.get(TABLE_PARTITION_KEY) == LABEL_REGISTRY_PK), {}
        )
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
        registry_writes=recorder.registry_writes,
        registry_values=sorted(str(value) for value in registry.get(LABEL_REGISTRY_VALUES, ())),
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
    out = sys.stdout

    def say(line: str = "") -> None:
        print(line, file=out, flush=True)

    memory_mb = load_environment(PRICED_ENV).function_memory_mb
    refresh = Settings.model_refresh_seconds
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
            f"({memory_mb} MB, batch {pass_config().batch_size}), AWS-like latency, "
            f"seed {args.seed}; model {work.model} ({work.version}) on {images}"
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
    for line in report_lines(results, args, memory_mb=memory_mb, refresh_seconds=refresh):
        say(line)
    return 0


def records_at_once(result: PassResult) -> float:
    """Mean threads that made the function's calls per invocation (1 = one record at a time)."""
    batches = result.measured.batches
    return sum(b.threads for b in batches) / len(batches) if batches else 0.0


def registry_line(result: PassResult, with_off: float, with_on: float) -> str:
    """The label registry's writes in the pass: left out of the totals, priced here."""
    measured = result.measured
    units = usage.registry_write_units(measured.registry_values, measured.registry_writes)
    size = usage.registry_bytes(measured.registry_values)
    return (
        f"  not in the totals: the label registry's UpdateItems, once per Lambda environment "
        f"and by_label value ({result.label}: {measured.per_image(measured.registry_writes):.3f}"
        f" per image, {len(measured.registry_values)} values, item {size} B at the end, "
        f"{units / max(1, measured.registry_writes):.1f} WRU each): with them this "
        f"{measured.images}-image pass costs ${with_off:.2f} tags off, ${with_on:.2f} tags on; "
        f"over 1M images, one environment's values are about 0 per image"
    )


def index_entry_line(
    result: PassResult, tags_off: float, tags_on: float, goals: tuple[float, float]
) -> str:
    """What one more index entry per image would cost (at this run's entry size), and how
    many the goals leave room for."""
    sizes = usage.item_sizes(result.measured)
    largest = max((entry[1] for entry in sizes.index_entries.values()), default=1)
    one: float = pricing.index_entry_per_million(largest)
    room = ", ".join(
        f"{max(0.0, goal - total) / one:.2f} {name}"
        for name, goal, total in (("tags off", goals[0], tags_off), ("tags on", goals[1], tags_on))
    )
    return (
        f"  one more index entry per image (entries up to {largest} B here: "
        f"{-(-largest // 1024)} WRU): ${one:.3f} per 1M images, times the share of images a "
        f"sparse index holds; the goals leave room for {room} entries per image"
    )


def item_size_line(result: PassResult) -> str:
    """One pass's item and index entry sizes, and its generic labels per item."""
    sizes = usage.item_sizes(result.measured)
    entries = "; ".join(
        f"{name} entry {mean:.0f} B mean, {largest} B max, {over:.0%} over 1 KB"
        for name, (mean, largest, over) in sizes.index_entries.items()
    )
    return (
        f"  {result.label}: {sizes.items} items, {sizes.mean_bytes:.0f} B mean, "
        f"{sizes.max_bytes} B max, {sizes.over_one_unit:.0%} over 1 KB; {sizes.mean_labels:.1f} "
        f"generic labels per item ({sizes.mean_labels_bytes:.0f} B); {entries}"
    )


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
        f"Lambda billed ms per image ({memory_mb} MB = one vCPU): each invocation's handler "
        "wall time, rounded up to 1 ms, over its records; priced without moto's own answer time "
        "but at least the function's CPU time (measured here in brackets):",
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
    lines.append(
        "  the function's CPU per image on this CPU (decode, inference, items, SDK): "
        + "; ".join(f"{r.label} {r.measured.cpu_ms_per_image():.1f} ms" for r in ordered)
    )
    lines += ["", "items written (DynamoDB sizes, infra.table_costs; 1 write unit per KB):"]
    lines += [item_size_line(r) for r in (off, on)]
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
    _, registry_totals = report.cost_table(
        {r.label: usage.usage_of(r.measured, memory_mb, registry=True) for r in (off, on)}
    )
    lines.append(registry_line(on, registry_totals[off.label], registry_totals[on.label]))
    lines.append(index_entry_line(on, tags_off, tags_on, GOALS[args.model]))
    lines += report.comparison_lines(
        tags_off,
        tags_on,
        totals["floor, tags off"],
        totals["floor, tags on"],
        args.custom_labels_tps,
        goals=GOALS[args.model],
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
