"""Driving the soak: one pass of the workload against a fresh local environment (start, deploy
the models, upload, drain, list and redrive the DLQ, audit), and the soak's passes in turn."""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgclf.deployment import Deployment
from imgclf.dlq import list_dead_letters, redrive
from imgclf.local import deployment_of
from imgclf.models import promote, upload_artifact
from infra.environment_config import EnvironmentConfig
from infra.local.environment import LocalEnvironment
from infra.local.faults import FaultPlan

from .audit import Audit, audit_pass
from .metrics import EmfCapture, captured_metrics
from .model_versions import tiny_artifacts
from .parameters import (
    DEFAULT_BASELINE_IMAGES,
    DEFAULT_IMAGES,
    DEFAULT_MAX_FINDINGS,
    DEFAULT_STABLE_SECONDS,
    DEFAULT_WORKERS,
    FIRST_MODEL,
    HARNESS_CLIENT_CONFIG,
    MAX_BACKLOG,
    POISON_KEYS,
    UPLOAD_THREADS,
    VISIBILITY_TIMEOUTS,
    PassOptions,
    default_drain_timeout,
    fault_plan,
    function_settings,
    planned_kinds,
    soak_config,
)
from .pass_result import PassResult
from .queues import Backlog, drain
from .soak_report import SoakReport, report_lines
from .uploads import upload_all
from .workload import POISON, Event, History, Scenario, plan_workload


@dataclass(frozen=True)
class _Setup:
    """One pass resolved: its workload, fault plan, environment and timeouts."""

    scenarios: list[Scenario]
    uploads: int
    faults: FaultPlan | None
    config: EnvironmentConfig
    visibility_timeout_seconds: int
    drain_timeout_seconds: float


@dataclass(frozen=True)
class _Drained:
    """The uploads and the first drain: the promotion's moment and the pass's time."""

    promoted_after: int | None
    seconds: float
    drained: bool
    left: dict[str, int]


def run_soak(
    images: int = DEFAULT_IMAGES,
    *,
    seed: int = 0,
    faults: bool = True,
    retry_mode: str | None = None,
    versioned: bool = True,
    workers: int = DEFAULT_WORKERS,
    baseline_images: int | None = None,
    upload_threads: int = UPLOAD_THREADS,
    poison: int = POISON_KEYS,
    stable_seconds: float = DEFAULT_STABLE_SECONDS,
    drain_timeout_seconds: float | None = None,
    function_timeout_seconds: int | None = None,
    visibility_timeout_seconds: int | None = None,
    function_settings: dict[str, str] | None = None,
    max_backlog: int = MAX_BACKLOG,
    max_findings: int = DEFAULT_MAX_FINDINGS,
    model_dir: Path | None = None,
    say: Callable[[str], None] = print,
) -> SoakReport:
    """The soak: a no-fault baseline pass (with faults on), the pass itself, the audit."""
    if baseline_images is None:
        baseline_images = min(images, DEFAULT_BASELINE_IMAGES) if faults else 0
    options = PassOptions(
        seed=seed,
        versioned=versioned,
        workers=workers,
        retry_mode=retry_mode,
        function_settings=function_settings,
        upload_threads=upload_threads,
        poison=poison,
        function_timeout_seconds=function_timeout_seconds,
        visibility_timeout_seconds=visibility_timeout_seconds,
        drain_timeout_seconds=drain_timeout_seconds,
        stable_seconds=stable_seconds,
        max_backlog=max_backlog,
    )
    with tempfile.TemporaryDirectory(prefix="imgclf-soak-") as directory:
        root = Path(directory)
        artifacts = tiny_artifacts(root / "models", model_dir)
        baseline = None
        if baseline_images > 0:
            baseline = run_pass(baseline_images, False, artifacts, root / "b", options, say)
        result = run_pass(images, faults, artifacts, root / "r", options, say)
    lines = report_lines(result, baseline, max_findings=max_findings)
    for line in lines:
        say(line)
    return SoakReport(result, baseline, lines)


def run_pass(
    images: int,
    faults: bool,
    artifacts: dict[str, Path],
    home: Path,
    options: PassOptions,
    say: Callable[[str], None] = print,
) -> PassResult:
    """One pass in a fresh local environment under `home`, up to and including the audit."""
    setup = _resolve(images, faults, options)
    with captured_metrics() as metrics:
        environment = _start(setup, options, home, metrics)
        try:
            deployment = _deploy(environment, artifacts, options.versioned)
            say(
                f"{'chaos' if faults else 'no-fault'} pass: {setup.uploads} uploads, "
                f"{len(setup.scenarios)} keys, {options.workers} workers, "
                f"{'versioned' if options.versioned else 'unversioned'} bucket"
            )
            history = History()
            first = _upload_and_drain(environment, deployment, setup, options, history, say)
            dlq_before = _dead_letters(deployment, history)
            redriven, drained_after, left_after = _lift_and_redrive(
                environment, deployment, setup, options, say
            )
            audit = _audit(environment, deployment, setup, history, dlq_before, metrics)
            injector = environment.injector
            fault_counts = dict(injector.counts()) if injector is not None else {}
        finally:
            environment.stop()
        totals = metrics.totals()
        dropped = metrics.totals(abandoned=True)
    return PassResult(
        images=setup.uploads,
        faults=faults,
        seconds=first.seconds,
        drained=first.drained,
        left=first.left,
        dlq_before=dict(dlq_before),
        redriven=redriven,
        drained_after=drained_after,
        left_after=left_after,
        audit=audit,
        fault_counts=fault_counts,
        planned_fault_kinds=planned_kinds(setup.faults) if setup.faults is not None else None,
        metrics=totals,
        abandoned_metrics=dropped,
        poison_keys=[s.key for s in setup.scenarios if s.kind == POISON],
        scenario_kinds=Counter(s.kind for s in setup.scenarios),
        tagged_keys=sum(any(step.tagged for step in s.steps) for s in setup.scenarios),
        promoted_after=first.promoted_after,
    )


def _resolve(images: int, faults: bool, options: PassOptions) -> _Setup:
    scenarios = plan_workload(images, options.seed, poison=options.poison)
    uploads = sum(s.uploads for s in scenarios)
    config = soak_config(options.function_timeout_seconds)
    visibility_timeout_seconds = (
        options.visibility_timeout_seconds or config.function_timeout_seconds * VISIBILITY_TIMEOUTS
    )
    drain_timeout_seconds = options.drain_timeout_seconds
    if drain_timeout_seconds is None:
        drain_timeout_seconds = default_drain_timeout(
            uploads,
            faults=faults,
            max_receive_count=config.max_receive_count,
            visibility_timeout_seconds=visibility_timeout_seconds,
        )
    return _Setup(
        scenarios,
        uploads,
        fault_plan(options.seed, faults),
        config,
        visibility_timeout_seconds,
        drain_timeout_seconds,
    )


def _start(
    setup: _Setup, options: PassOptions, home: Path, metrics: EmfCapture
) -> LocalEnvironment:
    """The local environment, its invocations' ends reported to the metrics capture."""
    return LocalEnvironment(
        setup.config,
        workers=options.workers,
        visibility_timeout_seconds=setup.visibility_timeout_seconds,
        home=home,
        write_state_file=False,
        function_settings=function_settings(options),
        on_batch=metrics.end_invocation,
        faults=setup.faults,
    ).start()


def _deploy(
    environment: LocalEnvironment, artifacts: dict[str, Path], versioned: bool
) -> Deployment:
    """The bucket versioned (or not), every model uploaded, and tiny-v1 promoted."""
    deployment = deployment_of(environment)
    if versioned:
        s3 = environment.client("s3", HARNESS_CLIENT_CONFIG)
        s3.put_bucket_versioning(
            Bucket=deployment.images_bucket,
            VersioningConfiguration={"Status": "Enabled"},
        )
    for version, tarball in artifacts.items():
        upload_artifact(deployment, tarball, version)
    promote(deployment, FIRST_MODEL)
    return deployment


def _upload_and_drain(
    environment: LocalEnvironment,
    deployment: Deployment,
    setup: _Setup,
    options: PassOptions,
    history: History,
    say: Callable[[str], None],
) -> _Drained:
    """Every upload (held back by the backlog), then the wait until the queue is empty."""
    s3 = environment.client("s3", HARNESS_CLIENT_CONFIG)
    sqs = environment.client("sqs", HARNESS_CLIENT_CONFIG)
    backlog = Backlog(sqs, deployment.queue_url, options.max_backlog)
    started = time.monotonic()
    promoted_after = upload_all(
        s3,
        deployment,
        setup.scenarios,
        history,
        options.upload_threads,
        setup.uploads,
        say,
        backlog,
    )
    if backlog.waited_seconds:
        say(
            f"  uploads held back {backlog.waited_seconds:.0f} thread-seconds "
            f"(queue backlog over {options.max_backlog})"
        )
    drained, left = drain(
        sqs,
        deployment.queue_url,
        timeout_seconds=setup.drain_timeout_seconds,
        stable_seconds=options.stable_seconds,
    )
    seconds = time.monotonic() - started - (options.stable_seconds if drained else 0.0)
    say(
        f"  drained in {seconds:.1f} s"
        if drained
        else f"  NOT drained after {setup.drain_timeout_seconds:.0f} s; left: {left}"
    )
    return _Drained(promoted_after, seconds, drained, left)


def _dead_letters(deployment: Deployment, history: History) -> Counter[str]:
    """The DLQ's messages per key before the redrive, each added to its key's history."""
    dlq_before: Counter[str] = Counter()
    for letter in list_dead_letters(deployment):
        for key in letter.keys or ("<not an object event>",):
            dlq_before[key] += 1
            history.add(key, _dead_letter_event(history, letter))
    return dlq_before


def _lift_and_redrive(
    environment: LocalEnvironment,
    deployment: Deployment,
    setup: _Setup,
    options: PassOptions,
    say: Callable[[str], None],
) -> tuple[int, bool, dict[str, int]]:
    """Faults lifted, the DLQ redriven, the queue drained again."""
    if environment.injector is not None:
        environment.injector.lift()
    redriven = redrive(deployment).moved
    drained_after, left_after = drain(
        environment.client("sqs", HARNESS_CLIENT_CONFIG),
        deployment.queue_url,
        timeout_seconds=setup.drain_timeout_seconds,
        stable_seconds=options.stable_seconds,
    )
    say(
        f"  faults lifted, {redriven} DLQ messages redriven, "
        + ("drained again" if drained_after else f"NOT drained again; left: {left_after}")
    )
    return redriven, drained_after, left_after


def _audit(
    environment: LocalEnvironment,
    deployment: Deployment,
    setup: _Setup,
    history: History,
    dlq_before: Counter[str],
    metrics: EmfCapture,
) -> Audit:
    """The audit, with the poison keys planted (under faults) and the invocations' outcomes."""
    planted = (
        {s.key for s in setup.scenarios if s.kind == POISON} if setup.faults is not None else set()
    )
    return audit_pass(
        environment,
        deployment,
        setup.scenarios,
        history,
        environment.injector,
        dlq_before,
        planted,
        metrics.outcomes,
    )


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
