"""Chaos soak of the local pipeline: a seeded workload under injected faults, then an audit.

    .venv/bin/python bench/soak.py [--images 10000] [--seed 0] [--no-faults] [--no-versioned]
        [--workers 2] [--retry-mode standard|adaptive|legacy] [--baseline-images N]
        [--function-timeout SECONDS] [--max-backlog 300]

All faults of `FaultPlan.chaos(seed)` (docs/faults/chaos.json) are on unless `--no-faults`.
The function runs with a deployed environment's timeout (cdk.json `dev`: 30 s) and the queue's
visibility timeout is twice that; `--workers` is the function's concurrency.

The workload (ground truth known for every key): noisy red/green/blue JPEGs that the tiny
test model labels correctly, uploaded from a few threads while the poller works. Keys are
plain uploads, overwrite bursts (2-5 colours in quick succession; the last one is the truth),
create-then-delete, delete-then-re-create, delete racing create (the second operation from
another thread right after the first), uploads carrying the user's own tags, bad files
(truth: REJECTED) and a few `poison/` keys whose GET fails while the faults are on. The
images bucket is versioned unless `--no-versioned`. `tiny-v2` (the same weights) is promoted
when half the uploads are done.

Uploads wait while more than `--max-backlog` messages are visible in the queue: moto's
ReceiveMessage walks the whole queue on every call, so an unbounded backlog slows every receive.

Then: wait until the queue is empty (visible + in flight + delayed, stable for a few
seconds), list the DLQ, lift the faults, redrive the DLQ, drain again and audit: one line per
invariant, counted per key. The handler's Powertools metrics (EMF lines on stdout) are
captured and compared with the item writes of the invocations that completed (the fault
injector's journal). A no-fault pass of the same workload (`--baseline-images`, default
min(N, 1000)) runs first for the throughput baseline.

The last line reads `lost N, wrong N, stale-tags N, dlq N, duplicates-written N`; the exit code
is 0 only if all five are 0, the metrics add up and the DLQ held only the planted poison keys.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode

import numpy as np
from botocore.config import Config
from botocore.exceptions import ClientError
from PIL import Image

from classifier.artifact_files import pack_artifact, read_metadata, write_artifact_dir
from classifier.contracts import (
    LABEL_REGISTRY_PK,
    LOCAL_ENV,
    METRIC_CLASSIFIED,
    METRIC_DUPLICATES,
    METRIC_MODEL_LOAD_FAILED,
    METRIC_RECORDS_FAILED,
    METRIC_REJECTED,
    TABLE_PARTITION_KEY,
    TAG_CONFIDENCE,
    TAG_LABEL,
    TAG_MODEL,
    TAG_PREFIX,
    ModelPointer,
    Status,
    object_pk,
)
from imgclf.deployment import Deployment
from imgclf.dlq import list_dead_letters, redrive
from imgclf.local import deployment_of
from imgclf.models import promote, upload_artifact
from infra.config import EnvironmentConfig, load_environment
from infra.local.environment import LocalEnvironment
from infra.local.faults import (
    CRASH,
    DELAY,
    DUPLICATE,
    ERROR_KINDS,
    LATENCY,
    FaultInjector,
    FaultPlan,
    ItemWrite,
)

REPO = Path(__file__).resolve().parents[1]
TEST_CACHE = REPO / ".imgclf" / "test-cache"

DEFAULT_IMAGES = 10_000
DEFAULT_BASELINE_IMAGES = 1_000
POISON_PREFIX = "poison/"
POISON_KEYS = 5
USER_TAGS = {"owner": "soak", "project": "imgclf"}
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}
FIRST_MODEL, SECOND_MODEL = "tiny-v1", "tiny-v2"
# Written straight to the pointer a third of the way in, as a broken deploy script would:
# random bytes as model.tflite under a model.json whose digests match them.
BROKEN_MODEL = "broken-1"
# The function runs with a deployed environment's timeout (cdk.json `dev`, 30 s), not the
# local environment's 5 s: under injected latency and botocore's backoff a 10-record batch can
# need more than 5 s on two shared cores, and the soak is about AWS's behaviour. The queue's
# visibility timeout is twice that by default: deployed queues use six times (AWS's advice),
# which would hold a crashed batch back for 3 minutes; much less than twice lets a batch that
# overruns on these two busy cores reappear while it is still being deleted.
DEPLOYED_ENV = "dev"
VISIBILITY_TIMEOUTS = 2
MODEL_REFRESH_SECONDS = "0.5"
BROKEN_SECONDS = 4 * float(MODEL_REFRESH_SECONDS)  # how long the broken pointer stands, at least
UPLOAD_THREADS = 4
# Uploads wait while more than this many messages are visible in the queue. Only moto needs it:
# its ReceiveMessage walks the whole queue on every call, so an unbounded backlog makes every
# receive slower and the run never catches up. SQS itself does not care how deep a queue is.
MAX_BACKLOG = 300
# Our own clients (uploads, audit) retry patiently: a fault aimed at them is not a finding.
HARNESS_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 10}, max_pool_connections=32
)

# Scenario kinds. Weights are per scenario (a burst holds several uploads).
PLAIN = "plain"
BURST = "burst"  # the same key overwritten 2-5 times in quick succession
DELETED = "deleted"  # create, then delete (same thread)
RECREATED = "recreated"  # create, delete, create again (same thread)
RACE_DELETE = "race-delete"  # create, then delete from another thread right after
RACE_CREATE = "race-create"  # create, delete, then create from another thread right after
BAD = "bad"  # a truncated JPEG or a text file named .jpg: truth REJECTED
POISON = "poison"  # GET fails while faults are on: ends in the DLQ, redriven after the lift
WEIGHTS = {
    PLAIN: 0.60,
    BURST: 0.12,
    DELETED: 0.06,
    RECREATED: 0.06,
    RACE_DELETE: 0.06,
    RACE_CREATE: 0.06,
    BAD: 0.01,
}
TAGGED_SHARE = 0.2  # of the scenarios that end with an upload
BAD_KINDS = ("truncated", "text")


# --- the workload ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One operation on a key: a PUT of some content, or a DELETE."""

    op: str  # "put" | "delete"
    content: str | None = None  # a colour, or "bad:truncated" / "bad:text"; None for delete
    seed: int = 0
    tagged: bool = False
    other_thread: bool = False  # issued from another thread right after the previous step


@dataclass(frozen=True)
class Scenario:
    kind: str
    key: str
    steps: tuple[Step, ...]

    @property
    def final(self) -> Step:
        return self.steps[-1]

    @property
    def exists(self) -> bool:
        return self.final.op == "put"

    @property
    def uploads(self) -> int:
        return sum(step.op == "put" for step in self.steps)

    @property
    def expected_status(self) -> str | None:
        if not self.exists:
            return None
        bad = (self.final.content or "").startswith("bad:")
        return str(Status.REJECTED if bad else Status.CLASSIFIED)

    @property
    def expected_label(self) -> str | None:
        return self.final.content if self.expected_status == Status.CLASSIFIED.value else None


def plan_workload(images: int, seed: int, *, poison: int = POISON_KEYS) -> list[Scenario]:
    """Scenarios holding about `images` uploads: every kind at least once, then by weight."""
    rng = random.Random(seed)
    scenarios: list[Scenario] = []
    counter = iter(range(10**9))

    def put(content: str, *, tagged: bool = False, other_thread: bool = False) -> Step:
        return Step("put", content, next(counter) + seed * 1_000_003, tagged, other_thread)

    def colour(avoid: str | None = None) -> str:
        return rng.choice([c for c in COLOURS if c != avoid])

    def make(kind: str, index: int, tagged: bool) -> Scenario:
        key = f"soak/{kind}/{index:05d}.jpg"
        if kind == PLAIN:
            steps: tuple[Step, ...] = (put(colour(), tagged=tagged),)
        elif kind == BURST:
            contents: list[str] = []
            for _ in range(rng.randint(2, 5)):
                contents.append(colour(contents[-1] if contents else None))
            steps = tuple(put(c, tagged=tagged) for c in contents)
        elif kind == DELETED:
            steps = (put(colour(), tagged=tagged), Step("delete"))
        elif kind == RECREATED:
            first = colour()
            steps = (put(first), Step("delete"), put(colour(first), tagged=tagged))
        elif kind == RACE_DELETE:
            steps = (put(colour(), tagged=tagged), Step("delete", other_thread=True))
        elif kind == RACE_CREATE:
            first = colour()
            steps = (
                put(first),
                Step("delete"),
                put(colour(first), tagged=tagged, other_thread=True),
            )
        elif kind == BAD:
            bad = BAD_KINDS[index % len(BAD_KINDS)]
            key = f"soak/bad/{index:05d}-{bad}.jpg"
            steps = (put(f"bad:{bad}", tagged=tagged),)
        elif kind == POISON:
            key = f"{POISON_PREFIX}{index:05d}.jpg"
            steps = (put(colour(), tagged=tagged),)
        else:
            raise ValueError(kind)
        return Scenario(kind, key, steps)

    indexes: Counter[str] = Counter()

    def add(kind: str, tagged: bool | None = None) -> None:
        if tagged is None:
            tagged = rng.random() < TAGGED_SHARE
        scenarios.append(make(kind, indexes[kind], tagged))
        indexes[kind] += 1

    for _ in range(poison):
        add(POISON, tagged=False)
    # Every kind at least once, and both bad kinds; the first plain and burst carry user tags.
    for kind in WEIGHTS:
        add(kind, tagged=kind in (PLAIN, BURST, RECREATED, RACE_CREATE))
    add(BAD)
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    total = sum(s.uploads for s in scenarios)
    while total < images:
        add(rng.choices(kinds, weights)[0])
        total += scenarios[-1].uploads
    rng.shuffle(scenarios)
    return scenarios


def colour_jpeg(colour: str, seed: int) -> bytes:
    """A small noisy image dominated by one colour (48-64 px), as the tiny model expects."""
    rng = np.random.default_rng(seed)
    size = 48 + seed % 17
    pixels = np.array(COLOURS[colour], np.float32) + rng.normal(0, 20, (size, size, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def content_bytes(step: Step) -> bytes:
    content = step.content or ""
    if content == "bad:truncated":
        whole = colour_jpeg("red", step.seed)
        return whole[: len(whole) // 2]
    if content == "bad:text":
        return f"not an image, just text #{step.seed}\n".encode() * 20
    return colour_jpeg(content, step.seed)


# --- what happened to each key (for the audit's findings) -----------------------------------
@dataclass
class Event:
    seconds: float
    op: str
    content: str | None
    thread: str
    etag: str | None = None
    version_id: str | None = None
    error: str | None = None

    def describe(self) -> str:
        what = f"{self.op} {self.content}" if self.content else self.op
        parts = [f"t={self.seconds:8.3f}s", what, f"[{self.thread}]"]
        if self.etag:
            parts.append(f"etag {self.etag[:10]}")
        if self.version_id:
            parts.append(f"version {self.version_id[:12]}")
        if self.error:
            parts.append(f"ERROR {self.error}")
        return " ".join(parts)


@dataclass
class History:
    events: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))
    started: float = field(default_factory=time.monotonic)

    def add(self, key: str, event: Event) -> None:
        self.events[key].append(event)  # one key is worked on by one operation at a time

    def now(self) -> float:
        return time.monotonic() - self.started


# --- metrics: the EMF lines Powertools prints at each flush ---------------------------------
class EmfCapture(io.TextIOBase):
    """A stdout stand-in: keeps complete EMF JSON lines, passes every other line through.

    Each EMF line is held for the thread that printed it until that thread's invocation ends
    (`end_invocation`, from the poller's on_batch): an abandoned invocation (crashed, timed
    out, raised) never flushes on Lambda, so its lines are set apart, not counted.
    """

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self.completed: list[dict[str, Any]] = []
        self.abandoned: list[dict[str, Any]] = []
        self._held: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self.outcomes: dict[str, Any] = {}  # request id -> the poller's BatchOutcome
        self._partial: dict[int, str] = {}
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        ident = threading.get_ident()
        with self._lock:
            buffered = self._partial.pop(ident, "") + text
            *lines, rest = buffered.split("\n")
            if rest:
                self._partial[ident] = rest
            passed = []
            for line in lines:
                record = _emf(line)
                if record is not None:
                    self._held[ident].append(record)
                else:
                    passed.append(line + "\n")
            if passed:
                self.target.write("".join(passed))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self.target.flush()

    def end_invocation(self, outcome: Any) -> None:
        """The calling thread's invocation ended (the poller's on_batch, in that thread)."""
        with self._lock:
            self.outcomes[str(getattr(outcome, "request_id", ""))] = outcome
            held = self._held.pop(threading.get_ident(), [])
            (self.abandoned if getattr(outcome, "abandoned", False) else self.completed).extend(
                held
            )

    def totals(self, *, abandoned: bool = False) -> Counter[str]:
        """Count metrics summed over completed invocations (lines printed outside any
        invocation count as completed), or over the abandoned ones."""
        with self._lock:
            if abandoned:
                records = list(self.abandoned)
            else:
                records = self.completed + [r for held in self._held.values() for r in held]
        totals: Counter[str] = Counter()
        for record in records:
            for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
                for metric in directive.get("Metrics", []):
                    name = metric.get("Name")
                    value = record.get(name)
                    values = value if isinstance(value, list) else [value]
                    if metric.get("Unit") == "Count":
                        totals[name] += int(sum(float(v) for v in values if v is not None))
        return totals


def _emf(line: str) -> dict[str, Any] | None:
    if not line.startswith("{") or '"_aws"' not in line:
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) and "_aws" in record else None


@contextmanager
def captured_metrics() -> Iterator[EmfCapture]:
    capture = EmfCapture(sys.stdout)
    previous, sys.stdout = sys.stdout, capture
    try:
        yield capture
    finally:
        sys.stdout = previous


# --- the model ----------------------------------------------------------------------------
def tiny_artifacts(directory: Path, source: Path | None = None) -> dict[str, Path]:
    """tiny-v1 and tiny-v2: the tests' red/green/blue int8 model under two versions."""
    sys.path.insert(0, str(REPO / "tests" / "fixtures"))
    try:
        import tiny_model
    finally:
        sys.path.remove(str(REPO / "tests" / "fixtures"))
    source = source or tiny_model.cached(TEST_CACHE)
    artifacts = {
        version: tiny_model.reversioned(source, version, directory / version)
        for version in (FIRST_MODEL, SECOND_MODEL)
    }
    return {**artifacts, BROKEN_MODEL: broken_artifact(source, directory / BROKEN_MODEL)}


def broken_artifact(source: Path, directory: Path) -> Path:
    """A model that cannot run: 4 KB of noise under the tiny model's model.json (version
    changed, digests recomputed so only loading it fails), packed."""
    metadata = dataclasses.replace(read_metadata(source), version=BROKEN_MODEL, probe=None)
    noise = random.Random(22).randbytes(4096)
    written = write_artifact_dir(directory / "model", noise, metadata)
    return pack_artifact(written, directory / "model.tar.gz")


def break_pointer(deployment: Deployment) -> None:
    """Point the environment at BROKEN_MODEL without promotion's checks, keeping the live
    version as `previous`, as a deploy script that writes SSM directly would."""
    ssm = deployment.client("ssm")
    name = deployment.model_pointer_parameter
    live = ModelPointer.from_json(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    broken = ModelPointer(deployment.artifact_uri(BROKEN_MODEL), BROKEN_MODEL, live.last)
    ssm.put_parameter(Name=name, Value=broken.to_json(), Type="String", Overwrite=True)


# --- the queue ----------------------------------------------------------------------------
QUEUE_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def queue_counts(sqs: Any, queue_url: str) -> dict[str, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=list(QUEUE_ATTRIBUTES)
    )["Attributes"]
    return {name: int(attributes.get(name, 0)) for name in QUEUE_ATTRIBUTES}


def drain(
    sqs: Any,
    queue_url: str,
    *,
    timeout_seconds: float,
    stable_seconds: float = 3.0,
    interval: float = 0.5,
) -> tuple[bool, dict[str, int]]:
    """Wait until the queue holds nothing (visible, in flight, delayed) for `stable_seconds`.

    Delivery faults resend with DelaySeconds, so a late message counts as delayed.
    """
    deadline = time.monotonic() + timeout_seconds
    empty_since: float | None = None
    while True:
        counts = queue_counts(sqs, queue_url)
        now = time.monotonic()
        if any(counts.values()):
            empty_since = None
        elif empty_since is None:
            empty_since = now
        elif now - empty_since >= stable_seconds:
            return True, counts
        if now >= deadline:
            return False, counts
        time.sleep(interval)


class Backlog:
    """Holds the upload threads back while the queue's visible backlog exceeds `limit`.

    One count is shared by all threads and refreshed at most every `interval` seconds."""

    def __init__(self, sqs: Any, queue_url: str, limit: int, interval: float = 0.25) -> None:
        self._sqs, self._queue_url, self.limit, self._interval = sqs, queue_url, limit, interval
        self._lock = threading.Lock()
        self._visible = 0
        self._read_at = float("-inf")
        self.waited_seconds = 0.0

    def _current(self) -> int:
        with self._lock:
            now = time.monotonic()
            if now - self._read_at >= self._interval:
                self._visible = queue_counts(self._sqs, self._queue_url)[QUEUE_ATTRIBUTES[0]]
                self._read_at = now
            return self._visible

    def wait(self) -> None:
        if self.limit <= 0:
            return
        started = time.monotonic()
        while self._current() > self.limit:
            time.sleep(self._interval)
        waited = time.monotonic() - started
        if waited:
            with self._lock:
                self.waited_seconds += waited


def default_drain_timeout(
    uploads: int, *, faults: bool, max_receive_count: int, visibility_timeout_seconds: float
) -> float:
    """An upper bound on one drain: the backlog, then a poison message's receives twice over.

    A poison message reaches the DLQ after maxReceiveCount receives, one per visibility
    timeout. A duplicate delivered late in that cycle is a new message whose count starts
    again, so the last poison copy can need two cycles after the last upload."""
    receives = (max_receive_count + 1) * visibility_timeout_seconds
    return max(180.0, uploads * (0.5 if faults else 0.2)) + (2 * receives if faults else receives)


# --- one pass -----------------------------------------------------------------------------
@dataclass
class PassResult:
    """One environment's run of the workload, up to and including the audit."""

    images: int
    faults: bool
    seconds: float  # first upload to the first drain
    drained: bool
    left: dict[str, int]
    dlq_before: dict[str, int]  # key -> messages, before the redrive
    redriven: int
    drained_after: bool
    left_after: dict[str, int]
    audit: Audit
    fault_counts: dict[str, int]
    planned_fault_kinds: list[str] | None
    metrics: Counter[str]  # count metrics of completed invocations
    abandoned_metrics: Counter[str]  # printed by invocations Lambda would not have let flush
    poison_keys: list[str]
    scenario_kinds: Counter[str]  # keys per workload action
    tagged_keys: int
    promoted_after: int | None  # uploads done when tiny-v2 was promoted

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0


def _planned_kinds(plan: FaultPlan) -> list[str]:
    """The fault kinds a plan can inject (the injector's names for them)."""
    kinds = [kind for kind in ERROR_KINDS if any(r.probability(kind) > 0 for r in plan.calls)]
    if any(r.probability("crash_after") > 0 for r in plan.calls):
        kinds.append(CRASH)
    if any(r.latency is not None for r in plan.calls):
        kinds.append(LATENCY)
    if plan.delivery.duplicate > 0:
        kinds.append(DUPLICATE)
    if plan.delivery.delay > 0:
        kinds.append(DELAY)
    return kinds


def soak_config(function_timeout_seconds: int | None = None) -> EnvironmentConfig:
    """The local environment with a deployed environment's function timeout (or this one)."""
    timeout = function_timeout_seconds or load_environment(DEPLOYED_ENV).function_timeout_seconds
    return dataclasses.replace(load_environment(LOCAL_ENV), function_timeout_seconds=timeout)


def run_pass(
    images: int,
    *,
    seed: int,
    faults: bool,
    versioned: bool,
    workers: int,
    artifacts: dict[str, Path],
    home: Path,
    retry_mode: str | None = None,
    function_settings: dict[str, str] | None = None,
    upload_threads: int = UPLOAD_THREADS,
    poison: int = POISON_KEYS,
    function_timeout_seconds: int | None = None,
    visibility_timeout_seconds: int | None = None,
    drain_timeout_seconds: float | None = None,
    stable_seconds: float = 3.0,
    max_backlog: int = MAX_BACKLOG,
    say: Callable[[str], None] = print,
) -> PassResult:
    scenarios = plan_workload(images, seed, poison=poison)
    uploads = sum(s.uploads for s in scenarios)
    settings = {
        "MODEL_REFRESH_SECONDS": MODEL_REFRESH_SECONDS,
        "POWERTOOLS_METRICS_DISABLED": "false",
        **(function_settings or {}),
    }
    if retry_mode:
        settings["RETRY_MODE"] = retry_mode
    plan = FaultPlan.chaos(seed, poison_prefix=POISON_PREFIX) if faults else None
    config = soak_config(function_timeout_seconds)
    visibility_timeout_seconds = (
        visibility_timeout_seconds or config.function_timeout_seconds * VISIBILITY_TIMEOUTS
    )
    if drain_timeout_seconds is None:
        drain_timeout_seconds = default_drain_timeout(
            uploads,
            faults=faults,
            max_receive_count=config.max_receive_count,
            visibility_timeout_seconds=visibility_timeout_seconds,
        )

    with captured_metrics() as metrics:
        environment = LocalEnvironment(
            config,
            workers=workers,
            visibility_timeout_seconds=visibility_timeout_seconds,
            home=home,
            write_state_file=False,
            function_settings=settings,
            on_batch=metrics.end_invocation,
            faults=plan,
        ).start()
        try:
            deployment = deployment_of(environment)
            s3 = _harness_client(environment, "s3")
            if versioned:
                s3.put_bucket_versioning(
                    Bucket=deployment.images_bucket,
                    VersioningConfiguration={"Status": "Enabled"},
                )
            for version, tarball in artifacts.items():
                upload_artifact(deployment, tarball, version)
            promote(deployment, FIRST_MODEL)
            injector = environment.injector
            say(
                f"{'chaos' if faults else 'no-fault'} pass: {uploads} uploads, "
                f"{len(scenarios)} keys, {workers} workers, "
                f"{'versioned' if versioned else 'unversioned'} bucket"
            )

            history = History()
            sqs = _harness_client(environment, "sqs")
            backlog = Backlog(sqs, deployment.queue_url, max_backlog)
            started = time.monotonic()
            promoted_after = _upload(
                s3, deployment, scenarios, history, upload_threads, uploads, say, backlog
            )
            if backlog.waited_seconds:
                say(
                    f"  uploads held back {backlog.waited_seconds:.0f} thread-seconds "
                    f"(queue backlog over {max_backlog})"
                )
            drained, left = drain(
                sqs,
                deployment.queue_url,
                timeout_seconds=drain_timeout_seconds,
                stable_seconds=stable_seconds,
            )
            seconds = time.monotonic() - started - (stable_seconds if drained else 0.0)
            say(
                f"  drained in {seconds:.1f} s"
                if drained
                else f"  NOT drained after {drain_timeout_seconds:.0f} s; left: {left}"
            )

            dlq_before: Counter[str] = Counter()
            for letter in list_dead_letters(deployment):
                for key in letter.keys or ("<not an object event>",):
                    dlq_before[key] += 1
                    history.add(key, _dead_letter_event(history, letter))
            if injector is not None:
                injector.lift()
            redriven = redrive(deployment)
            drained_after, left_after = drain(
                sqs,
                deployment.queue_url,
                timeout_seconds=drain_timeout_seconds,
                stable_seconds=stable_seconds,
            )
            say(
                f"  faults lifted, {redriven} DLQ messages redriven, "
                + ("drained again" if drained_after else f"NOT drained again; left: {left_after}")
            )
            planted = {s.key for s in scenarios if s.kind == POISON} if faults else set()
            audit = audit_pass(
                environment,
                deployment,
                scenarios,
                history,
                injector,
                dlq_before,
                planted,
                metrics.outcomes,
            )
            fault_counts = dict(injector.counts()) if injector is not None else {}
        finally:
            environment.stop()
        totals = metrics.totals()
        dropped = metrics.totals(abandoned=True)
    return PassResult(
        images=uploads,
        faults=faults,
        seconds=seconds,
        drained=drained,
        left=left,
        dlq_before=dict(dlq_before),
        redriven=redriven,
        drained_after=drained_after,
        left_after=left_after,
        audit=audit,
        fault_counts=fault_counts,
        planned_fault_kinds=_planned_kinds(plan) if plan is not None else None,
        metrics=totals,
        abandoned_metrics=dropped,
        poison_keys=[s.key for s in scenarios if s.kind == POISON],
        scenario_kinds=Counter(s.kind for s in scenarios),
        tagged_keys=sum(any(step.tagged for step in s.steps) for s in scenarios),
        promoted_after=promoted_after,
    )


def _harness_client(environment: LocalEnvironment, service: str) -> Any:
    return environment.client(service, HARNESS_CLIENT_CONFIG)


def _upload(
    s3: Any,
    deployment: Deployment,
    scenarios: list[Scenario],
    history: History,
    threads: int,
    total_uploads: int,
    say: Callable[[str], None],
    backlog: Backlog,
) -> int | None:
    """Run every scenario from `threads` threads; write the pointer to BROKEN_MODEL when a
    third are uploaded, and promote tiny-v2 (through promotion's checks) at half.

    Returns how many uploads were done when the promotion happened (None: it did not)."""
    bucket = deployment.images_bucket
    tagging = urlencode(USER_TAGS)
    done = 0
    done_lock = threading.Lock()
    half = threading.Event()
    third = threading.Event()
    promoted = threading.Event()  # tiny-v2 promoted (or given up): uploads past half go on
    racer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="soak-racer")
    errors: list[BaseException] = []
    promoted_after: int | None = None

    def apply(key: str, step: Step) -> None:
        nonlocal done
        thread = threading.current_thread().name
        if not step.other_thread:  # a racing step follows its first step at once
            backlog.wait()
            if half.is_set():
                promoted.wait()  # the broken pointer's window: see promoter
        if step.op == "delete":
            response = s3.delete_object(Bucket=bucket, Key=key)
            history.add(
                key,
                Event(history.now(), "delete", None, thread, None, response.get("VersionId")),
            )
            return
        extra = {"Tagging": tagging} if step.tagged else {}
        response = s3.put_object(
            Bucket=bucket, Key=key, Body=content_bytes(step), ContentType="image/jpeg", **extra
        )
        event = Event(
            history.now(),
            "put+tags" if step.tagged else "put",
            step.content,
            thread,
            str(response.get("ETag", "")).strip('"'),
            response.get("VersionId"),
        )
        history.add(key, event)
        with done_lock:
            done += 1
            if done * 3 >= total_uploads:
                third.set()
            if done * 2 >= total_uploads:
                half.set()

    def run(scenario: Scenario) -> None:
        for step in scenario.steps:
            if step.other_thread:
                racer.submit(apply, scenario.key, step).result()
            else:
                apply(scenario.key, step)

    def promoter() -> None:
        try:
            promote_mid_run()
        finally:
            promoted.set()

    def promote_mid_run() -> None:
        nonlocal promoted_after
        third.wait()
        if stop.is_set():
            return
        _retried(lambda: break_pointer(deployment), errors)
        broken_at = time.monotonic()
        say(f"  pointer written to {BROKEN_MODEL} (a model that cannot run) after {done} uploads")
        half.wait()
        if stop.is_set():
            return
        # Uploads pause at half while the broken pointer stands for a few of the function's
        # refreshes, so that warm functions meet it (and count ModelLoadFailed) on the
        # backlog before tiny-v2 replaces it, mid-run.
        time.sleep(max(0.0, broken_at + BROKEN_SECONDS - time.monotonic()))
        for attempt in range(5):
            try:
                promote(deployment, SECOND_MODEL)
                promoted_after = done
                say(f"  promoted {SECOND_MODEL} after {done} uploads")
                return
            except Exception as error:  # a fault aimed at the pointer; try again
                if attempt == 4:
                    errors.append(error)
                time.sleep(0.5)

    stop = threading.Event()
    promoting = threading.Thread(target=promoter, name="soak-promoter", daemon=True)
    promoting.start()
    try:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="soak-upload") as pool:
            for future in [pool.submit(run, scenario) for scenario in scenarios]:
                future.result()
    finally:
        stop.set()
        third.set()
        half.set()
        promoting.join()
        promoted.set()
        racer.shutdown()
    if errors:
        raise errors[0]
    return promoted_after


def _retried(action: Callable[[], None], errors: list[BaseException]) -> None:
    """Run `action`, again after a fault aimed at it (up to 5 times); the last error is kept."""
    for attempt in range(5):
        try:
            action()
            return
        except Exception as error:  # a fault aimed at SSM; try again
            if attempt == 4:
                errors.append(error)
            time.sleep(0.5)


# --- the audit ----------------------------------------------------------------------------
@dataclass
class Finding:
    invariant: str
    key: str
    detail: str


@dataclass
class Audit:
    keys: int = 0
    existing: int = 0
    deleted: int = 0
    items: int = 0
    lost: int = 0
    wrong: int = 0
    stale_tags: int = 0
    deleted_with_item: int = 0
    wrong_existing: int = 0
    unexpected_items: int = 0
    tags_checked: int = 0
    user_tags_expected: int = 0
    poison_ok: int = 0
    poison_keys: int = 0
    dlq_after: int = 0
    duplicates_written: int = 0
    item_writes: int | None = None
    completed_writes: int | None = None
    writes_without_invocation: int = 0
    attributed: bool = True  # the journal names each write's invocation
    harness_mismatches: int = 0
    findings: list[Finding] = field(default_factory=list)
    histories: dict[str, list[str]] = field(default_factory=dict)


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every result item (the label registry is not one)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        response = dynamodb.scan(**kwargs)
        items.extend(
            item
            for item in response.get("Items", [])
            if item[TABLE_PARTITION_KEY]["S"] != LABEL_REGISTRY_PK
        )
        if "LastEvaluatedKey" not in response:
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _plain(value: dict[str, Any]) -> Any:
    (kind, inner), *_ = value.items()
    if kind == "S":
        return inner
    if kind == "N":
        return float(inner)
    if kind == "BOOL":
        return inner
    if kind == "NULL":
        return None
    if kind == "L":
        return [_plain(v) for v in inner]
    if kind == "M":
        return {k: _plain(v) for k, v in inner.items()}
    return inner


def _object_state(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    """HeadObject and the current version's tags; {'exists': False} if there is none."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound", "405", "MethodNotAllowed"):
            return {"exists": False}
        raise
    args = {"Bucket": bucket, "Key": key}
    if head.get("VersionId") and head.get("VersionId") != "null":
        args["VersionId"] = head["VersionId"]
    tags = s3.get_object_tagging(**args).get("TagSet", [])
    return {
        "exists": True,
        "etag": str(head.get("ETag", "")).strip('"'),
        "version_id": head.get("VersionId"),
        "tags": {tag["Key"]: tag["Value"] for tag in tags},
    }


def audit_pass(
    environment: LocalEnvironment,
    deployment: Deployment,
    scenarios: list[Scenario],
    history: History,
    injector: FaultInjector | None,
    dlq_before: Counter[str],
    poison_keys: set[str],
    outcomes: dict[str, Any],
) -> Audit:
    audit = Audit()
    bucket = deployment.images_bucket
    s3 = _harness_client(environment, "s3")
    dynamodb = _harness_client(environment, "dynamodb")
    raw_items = _scan(dynamodb, deployment.results_table)
    items: dict[str, dict[str, Any]] = {}
    item_counts: Counter[str] = Counter()
    for raw in raw_items:
        plain = {name: _plain(value) for name, value in raw.items()}
        items[str(plain["pk"])] = plain
        item_counts[str(plain["pk"])] += 1
    audit.items = len(raw_items)
    with ThreadPoolExecutor(max_workers=8) as pool:
        states = dict(
            zip(
                [s.key for s in scenarios],
                pool.map(lambda s: _object_state(s3, bucket, s.key), scenarios),
                strict=True,
            )
        )
    writes = _item_writes(injector)
    writes_by_pk: dict[str, list[ItemWrite]] = defaultdict(list)
    for write in writes or []:
        writes_by_pk[str(write.pk)].append(write)

    def finding(invariant: str, scenario_key: str, detail: str) -> None:
        audit.findings.append(Finding(invariant, scenario_key, detail))
        pk = object_pk(bucket, scenario_key)
        if scenario_key not in audit.histories:
            lines = [e.describe() for e in history.events.get(scenario_key, [])]
            for write in writes_by_pk.get(pk, []):
                outcome = _describe_outcome(outcomes.get(str(write.invocation)))
                lines.append(f"item write {_describe_write(write)}{outcome}")
            item = items.get(pk)
            lines.append("item now: " + (_describe_item(item) if item else "none"))
            state = states.get(scenario_key, {})
            if state.get("exists"):
                lines.append(
                    f"object now: etag {state['etag'][:10]} version "
                    f"{str(state.get('version_id'))[:12]} tags {state['tags']}"
                )
            else:
                lines.append("object now: none")
            audit.histories[scenario_key] = lines

    known: set[str] = set()
    for scenario in scenarios:
        audit.keys += 1
        pk = object_pk(bucket, scenario.key)
        known.add(pk)
        item = items.get(pk)
        state = states[scenario.key]
        if state["exists"] != scenario.exists:
            audit.harness_mismatches += 1
            finding("harness", scenario.key, f"S3 existence {state['exists']} != plan")
        if not scenario.exists:
            audit.deleted += 1
            if item is not None:
                audit.deleted_with_item += 1
                audit.wrong += 1
                finding("wrong", scenario.key, "an item for a deleted key")
            continue
        audit.existing += 1
        if scenario.kind == POISON:
            audit.poison_keys += 1
        if item is None:
            audit.lost += 1
            finding("lost", scenario.key, "no item")
            continue
        problems = []
        if item_counts[pk] != 1:
            problems.append(f"{item_counts[pk]} items")
        if state["exists"] and item.get("etag") != state["etag"]:
            problems.append(f"item etag {item.get('etag')} != object {state['etag']}")
        if (
            state["exists"]
            and state.get("version_id") not in (None, "null")
            and item.get("version_id") != state["version_id"]
        ):
            problems.append(f"item version {item.get('version_id')} != {state['version_id']}")
        if item.get("status") != scenario.expected_status:
            problems.append(f"status {item.get('status')} != {scenario.expected_status}")
        if scenario.expected_label is not None and item.get("label") != scenario.expected_label:
            problems.append(f"label {item.get('label')} != {scenario.expected_label}")
        if problems:
            audit.wrong += 1
            audit.wrong_existing += 1
            finding("wrong", scenario.key, "; ".join(problems))
        elif scenario.kind == POISON:
            audit.poison_ok += 1
        if state["exists"]:
            audit.tags_checked += 1
            tag_problems = _tag_problems(item, state["tags"], scenario.final.tagged)
            audit.user_tags_expected += scenario.final.tagged
            if tag_problems:
                audit.stale_tags += 1
                finding("stale-tags", scenario.key, "; ".join(tag_problems))
    for pk, stray in items.items():
        if pk not in known:
            audit.unexpected_items += 1
            audit.wrong += 1
            audit.findings.append(Finding("wrong", str(stray.get("key")), "an item for no key"))

    if writes is not None:
        audit.item_writes = len(writes)
        abandoned = _abandoned(environment)
        audit.writes_without_invocation = sum(w.invocation is None for w in writes)
        # Without a fault plan the poller does not tag calls with their invocation (None);
        # then writes cannot be told apart by invocation, and every flush is compared.
        audit.attributed = not writes or audit.writes_without_invocation < len(writes)
        audit.completed_writes = sum(w.invocation not in abandoned for w in writes)
        for pk, pk_writes in writes_by_pk.items():
            for previous, write in zip(pk_writes, pk_writes[1:], strict=False):
                if (previous.etag, previous.model_version) == (write.etag, write.model_version):
                    audit.duplicates_written += 1
                    key = pk.split("/", 1)[1]
                    finding(
                        "duplicates-written",
                        key,
                        f"etag {write.etag} model {write.model_version} written again",
                    )
    for key, messages in sorted(dlq_before.items()):
        if key not in poison_keys:
            finding("dlq-before-redrive", key, f"{messages} message(s) in the DLQ, not planted")
    sqs = _harness_client(environment, "sqs")
    audit.dlq_after = sum(queue_counts(sqs, deployment.dead_letter_queue_url).values())
    return audit


def _tag_problems(item: dict[str, Any], tags: dict[str, str], user_tagged: bool) -> list[str]:
    problems = []
    ours = {k: v for k, v in tags.items() if k.startswith(TAG_PREFIX)}
    if item.get("status") == Status.CLASSIFIED.value:
        if ours.get(TAG_LABEL) != item.get("label"):
            problems.append(f"tag label {ours.get(TAG_LABEL)} != item {item.get('label')}")
        if ours.get(TAG_MODEL) != item.get("model_version"):
            problems.append(f"tag model {ours.get(TAG_MODEL)} != item {item.get('model_version')}")
        try:
            same = round(float(ours.get(TAG_CONFIDENCE, "nan")), 4) == round(
                float(item.get("confidence", "nan")), 4
            )
        except ValueError:
            same = False
        if not same:
            problems.append(
                f"tag confidence {ours.get(TAG_CONFIDENCE)} != item {item.get('confidence')}"
            )
    elif ours:
        problems.append(f"a {item.get('status')} item's object has imgclf tags {ours}")
    if user_tagged:
        lost = {k: v for k, v in USER_TAGS.items() if tags.get(k) != v}
        if lost:
            problems.append(f"user tags lost: {lost}")
    return problems


def _item_writes(injector: FaultInjector | None) -> list[ItemWrite] | None:
    return injector.journal.item_writes() if injector is not None else None


def _abandoned(environment: LocalEnvironment) -> set[str]:
    assert environment.poller is not None
    return set(environment.poller.stats.snapshot().get("abandoned", set()))


def _dead_letter_event(history: History, letter: Any) -> Event:
    """A DLQ message, as a line of its key's history."""
    detail = f"received {letter.receive_count}x"
    try:
        record = json.loads(letter.body)["Records"][0]
        obj = record["s3"]["object"]
        detail += (
            f", {record.get('eventName')} sequencer {obj.get('sequencer')} "
            f"etag {str(obj.get('eTag'))[:10]} version {str(obj.get('versionId'))[:12]}"
        )
    except (KeyError, IndexError, TypeError, ValueError):
        detail += f", body {letter.body[:80]!r}"
    return Event(history.now(), "in the DLQ before the redrive:", detail, "audit")


def _describe_outcome(outcome: Any) -> str:
    if outcome is None:
        return ""
    state = "abandoned" if outcome.abandoned else "completed"
    error = f", {outcome.error[:80]}" if outcome.error else ""
    return (
        f" ({state} after {outcome.seconds:.1f} s: {outcome.succeeded}/{outcome.size} "
        f"acknowledged{error})"
    )


def _describe_write(write: ItemWrite) -> str:
    return (
        f"{write.status} etag {str(write.etag)[:10]} model {write.model_version} "
        f"order {write.event_order} invocation {str(write.invocation)[:8]}"
    )


def _describe_item(item: dict[str, Any]) -> str:
    return (
        f"{item.get('status')} {item.get('label', '')} etag {str(item.get('etag'))[:10]} "
        f"version {str(item.get('version_id'))[:12]} model {item.get('model_version')} "
        f"order {item.get('event_order')}"
    )


# --- the report ---------------------------------------------------------------------------
@dataclass
class SoakReport:
    """The chaos pass (or the only pass, without faults), its baseline and the printed lines."""

    result: PassResult
    baseline: PassResult | None
    lines: list[str]

    @property
    def audit(self) -> Audit:
        return self.result.audit

    @property
    def lost(self) -> int:
        return self.audit.lost

    @property
    def wrong(self) -> int:
        return self.audit.wrong

    @property
    def stale_tags(self) -> int:
        return self.audit.stale_tags

    @property
    def dlq(self) -> int:
        return self.audit.dlq_after

    @property
    def duplicates_written(self) -> int:
        return self.audit.duplicates_written

    @property
    def counts(self) -> dict[str, int]:
        return {
            "lost": self.lost,
            "wrong": self.wrong,
            "stale-tags": self.stale_tags,
            "dlq": self.dlq,
            "duplicates-written": self.duplicates_written,
        }

    @property
    def metrics_counted(self) -> int:
        return self.result.metrics[METRIC_CLASSIFIED] + self.result.metrics[METRIC_REJECTED]

    @property
    def metrics_add_up(self) -> bool | None:
        """None when there is no journal to compare with."""
        if self.audit.completed_writes is None:
            return None
        if not self.audit.attributed:
            flushed = self.metrics_counted + _sum_images(self.result.abandoned_metrics)
            return flushed == self.audit.item_writes
        return self.metrics_counted == self.audit.completed_writes

    @property
    def poison_keys(self) -> set[str]:
        return set(self.result.poison_keys) if self.result.faults else set()

    @property
    def dlq_before_ok(self) -> bool:
        return set(self.result.dlq_before) == self.poison_keys

    @property
    def drained(self) -> bool:
        return self.result.drained and self.result.drained_after

    @property
    def ok(self) -> bool:
        return (
            not any(self.counts.values())
            and self.metrics_add_up is not False
            and self.dlq_before_ok
            and self.drained
        )

    @property
    def last_line(self) -> str:
        return ", ".join(f"{name} {value}" for name, value in self.counts.items())


def report_lines(
    result: PassResult, baseline: PassResult | None, *, max_findings: int = 20
) -> list[str]:
    """The baseline's audit (if any), the pass's audit, faults, throughput, the last line."""
    lines = []
    if baseline is not None:
        lines.append("baseline, the same workload without faults:")
        lines += [f"  {line}" for line in audit_lines(baseline, max_findings=max_findings)]
        lines.append(f"  {SoakReport(baseline, None, []).last_line}")
        lines.append("with faults:" if result.faults else "the run:")
    lines += audit_lines(result, max_findings=max_findings)
    if result.faults:
        injected = ", ".join(f"{k} {v}" for k, v in sorted(result.fault_counts.items()))
        lines.append(
            f"faults injected: {injected or 'none'} (total {sum(result.fault_counts.values())})"
        )
        if result.planned_fault_kinds is not None:
            absent = [k for k in result.planned_fault_kinds if not result.fault_counts.get(k)]
            if absent:
                lines.append(f"  planned but never injected: {', '.join(absent)}")
    label = "with faults" if result.faults else "without faults"
    throughput = (
        f"throughput: {result.images_per_second:.1f} images/s {label} "
        f"({result.images} uploads in {result.seconds:.1f} s)"
    )
    if baseline is not None:
        ratio = (
            result.images_per_second / baseline.images_per_second
            if baseline.images_per_second
            else 0.0
        )
        throughput += (
            f"; baseline {baseline.images_per_second:.1f} images/s without faults "
            f"({baseline.images} uploads of the same workload in {baseline.seconds:.1f} s, "
            f"this run); ratio {ratio:.2f}"
        )
    lines.append(throughput)
    lines.append(SoakReport(result, baseline, []).last_line)
    return lines


def audit_lines(result: PassResult, *, max_findings: int = 20) -> list[str]:
    """One line per invariant, counted per key, then the findings with their histories."""
    audit = result.audit
    report = SoakReport(result, None, [])
    lines = [
        f"audit: {result.images} uploads over {audit.keys} keys "
        f"({audit.existing} exist, {audit.deleted} deleted); {audit.items} items in the table",
        f"  every existing key has exactly one item with its current etag, status and label: "
        f"{audit.existing - audit.lost - audit.wrong_existing}"
        f"/{audit.existing} (lost {audit.lost}, wrong {audit.wrong_existing})",
        f"  every deleted key has no item: {audit.deleted - audit.deleted_with_item}"
        f"/{audit.deleted}; items for keys never uploaded: {audit.unexpected_items}",
        f"  imgclf tags agree with the item, user tags kept: "
        f"{audit.tags_checked - audit.stale_tags}/{audit.tags_checked} objects "
        f"({audit.user_tags_expected} with user tags)",
    ]
    expected = sorted(report.poison_keys)
    found = sorted(result.dlq_before)
    others = sorted(set(found) - set(expected))
    missing = sorted(set(expected) - set(found))
    lines.append(
        f"  DLQ before the redrive holds exactly the planted poison keys: "
        f"{'yes' if report.dlq_before_ok else 'NO'} ({sum(result.dlq_before.values())} messages, "
        f"{len(set(found) & set(expected))}/{len(expected)} poison keys"
        + (f", other keys {others[:5]}{'…' if len(others) > 5 else ''}" if others else "")
        + (f", poison keys missing {missing}" if missing else "")
        + ")"
    )
    lines.append(
        f"  after lifting the faults and redriving {result.redriven}: DLQ holds "
        f"{audit.dlq_after}; poison keys classified correctly {audit.poison_ok}"
        f"/{audit.poison_keys}"
    )
    totals = result.metrics
    if audit.completed_writes is None:
        lines.append(
            f"  metrics: ImagesClassified {totals[METRIC_CLASSIFIED]} + ImagesRejected "
            f"{totals[METRIC_REJECTED]} = {report.metrics_counted}; no journal to compare with"
        )
    elif not audit.attributed:
        lines.append(
            f"  metrics add up: {'yes' if report.metrics_add_up else 'NO'} (the journal does "
            f"not name invocations without a fault plan, so every flush is compared: "
            f"ImagesClassified {totals[METRIC_CLASSIFIED]} + ImagesRejected "
            f"{totals[METRIC_REJECTED]} + {_sum_images(result.abandoned_metrics)} from "
            f"timed-out invocations; item writes {audit.item_writes})"
        )
    else:
        lines.append(
            f"  metrics add up: {'yes' if report.metrics_add_up else 'NO'} (ImagesClassified "
            f"{totals[METRIC_CLASSIFIED]} + ImagesRejected {totals[METRIC_REJECTED]} = "
            f"{report.metrics_counted}; item writes in completed invocations "
            f"{audit.completed_writes} of {audit.item_writes}"
            + (
                f", {audit.writes_without_invocation} outside any invocation"
                if audit.writes_without_invocation
                else ""
            )
            + f"; DuplicatesSkipped {totals[METRIC_DUPLICATES]}, "
            f"RecordsFailed {totals[METRIC_RECORDS_FAILED]}, "
            f"ModelLoadFailed {totals[METRIC_MODEL_LOAD_FAILED]}; not counted, from invocations "
            f"Lambda would have stopped: {_sum_images(result.abandoned_metrics)})"
        )
    lines.append(f"  item writes repeating the key's previous write: {audit.duplicates_written}")
    if not result.drained or not result.drained_after:
        lines.append(
            f"  queue NOT drained: after the run {result.left}, after the redrive "
            f"{result.left_after}"
        )
    if audit.harness_mismatches:
        lines.append(f"  harness: {audit.harness_mismatches} keys' existence differs from plan")
    if audit.findings:
        lines.append(f"findings ({len(audit.findings)}; histories of the first {max_findings}):")
        shown = 0
        for item in audit.findings:
            lines.append(f"  {item.invariant}: {item.key}: {item.detail}")
            if shown < max_findings and item.key in audit.histories:
                shown += 1
                lines.extend(f"      {line}" for line in audit.histories[item.key])
    return lines


def _sum_images(totals: Counter[str]) -> int:
    return totals[METRIC_CLASSIFIED] + totals[METRIC_REJECTED]


def run_soak(
    images: int = DEFAULT_IMAGES,
    *,
    seed: int = 0,
    faults: bool = True,
    retry_mode: str | None = None,
    versioned: bool = True,
    workers: int = 2,
    baseline_images: int | None = None,
    upload_threads: int = UPLOAD_THREADS,
    poison: int = POISON_KEYS,
    stable_seconds: float = 3.0,
    drain_timeout_seconds: float | None = None,
    function_timeout_seconds: int | None = None,
    visibility_timeout_seconds: int | None = None,
    function_settings: dict[str, str] | None = None,
    max_backlog: int = MAX_BACKLOG,
    max_findings: int = 20,
    model_dir: Path | None = None,
    say: Callable[[str], None] = print,
) -> SoakReport:
    """The soak: a no-fault baseline pass (with faults on), the pass itself, the audit."""
    if baseline_images is None:
        baseline_images = min(images, DEFAULT_BASELINE_IMAGES) if faults else 0
    common: dict[str, Any] = {
        "seed": seed,
        "versioned": versioned,
        "workers": workers,
        "retry_mode": retry_mode,
        "function_settings": function_settings,
        "upload_threads": upload_threads,
        "poison": poison,
        "stable_seconds": stable_seconds,
        "drain_timeout_seconds": drain_timeout_seconds,
        "function_timeout_seconds": function_timeout_seconds,
        "visibility_timeout_seconds": visibility_timeout_seconds,
        "max_backlog": max_backlog,
        "say": say,
    }
    with tempfile.TemporaryDirectory(prefix="imgclf-soak-") as directory:
        root = Path(directory)
        artifacts = tiny_artifacts(root / "models", model_dir)
        baseline = None
        if baseline_images > 0:
            baseline = run_pass(
                baseline_images, faults=False, artifacts=artifacts, home=root / "b", **common
            )
        result = run_pass(images, faults=faults, artifacts=artifacts, home=root / "r", **common)
    lines = report_lines(result, baseline, max_findings=max_findings)
    for line in lines:
        say(line)
    return SoakReport(result, baseline, lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES, help="uploads (10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-faults", dest="faults", action="store_false")
    parser.add_argument("--no-versioned", dest="versioned", action="store_false")
    parser.add_argument("--workers", type=int, default=2, help="poller workers (2)")
    parser.add_argument("--upload-threads", type=int, default=UPLOAD_THREADS)
    parser.add_argument(
        "--retry-mode",
        choices=("legacy", "standard", "adaptive"),
        help="botocore retry mode for the function (its RETRY_MODE setting)",
    )
    parser.add_argument(
        "--baseline-images",
        type=int,
        help=f"uploads of the no-fault baseline pass (min(N, {DEFAULT_BASELINE_IMAGES}); 0: none)",
    )
    parser.add_argument("--poison", type=int, default=POISON_KEYS, help="poison/ keys (5)")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a function environment variable (repeatable)",
    )
    parser.add_argument("--drain-timeout", type=float, help="seconds per drain")
    parser.add_argument(
        "--max-backlog",
        type=int,
        default=MAX_BACKLOG,
        help=f"uploads wait while more messages than this are queued ({MAX_BACKLOG}; 0: never)",
    )
    parser.add_argument(
        "--function-timeout",
        type=int,
        help=f"the function's timeout in seconds (default: cdk.json {DEPLOYED_ENV}'s)",
    )
    parser.add_argument("--max-findings", type=int, default=20, help="histories printed (20)")
    args = parser.parse_args(argv)
    settings = dict(pair.split("=", 1) for pair in args.setting)
    report = run_soak(
        args.images,
        seed=args.seed,
        faults=args.faults,
        retry_mode=args.retry_mode,
        versioned=args.versioned,
        workers=args.workers,
        baseline_images=args.baseline_images,
        upload_threads=args.upload_threads,
        poison=args.poison,
        drain_timeout_seconds=args.drain_timeout,
        function_timeout_seconds=args.function_timeout,
        function_settings=settings,
        max_backlog=args.max_backlog,
        max_findings=args.max_findings,
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
