"""`imgclf local up`: the embedded environment in the foreground until Ctrl-C."""

from __future__ import annotations

import dataclasses
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import IO

from classifier.artifact import ArtifactError
from classifier.artifact_files import metadata_in_tarball
from classifier.contracts import LOCAL_ENV, MODELS_PREFIX
from infra.environment_config import ConfigError, EnvironmentConfig, load_environment
from infra.local import (
    DUMMY_CREDENTIALS,
    BatchOutcome,
    FaultPlan,
    FaultPlanError,
    LocalEnvironment,
    claim_home,
    imgclf_home,
    last_promoted,
)

from .deployment import Deployment, local_deployment, running_local_state
from .errors import CliError
from .models import promote, upload_artifact
from .output import stderr, stdout


def deployment_of(environment: LocalEnvironment, home: Path | None = None) -> Deployment:
    """The CLI's view of a local environment running in this process (`home`: `local up`'s)."""
    assert environment.resources is not None
    return local_deployment(
        environment.endpoint_url, environment.region, environment.resources.stack_outputs(), home
    )


def cached_artifacts(home: Path | None = None) -> list[tuple[str, Path]]:
    """Model artifacts from earlier `train` and `demo` runs, oldest first: (version, tarball)."""
    home = home or imgclf_home()
    found: list[tuple[float, str, Path]] = []
    for tarball in [*home.glob("models/*/model.tar.gz"), *home.glob("cache/*/model.tar.gz")]:
        version_file = tarball.parent / "VERSION"
        version = version_file.read_text().strip() if version_file.is_file() else ""
        if version:
            found.append((tarball.stat().st_mtime, version, tarball))
    return [(version, tarball) for _, version, tarball in sorted(found)]


def seed_models(deployment: Deployment, home: Path | None = None) -> str | None:
    """Upload cached artifacts to the fresh models bucket and make live the one last promoted
    in this home, as it was promoted; else the newest that passes promotion's checks, its
    quality gate included (so a model built and not promoted, a day-0 one under review, does
    not replace what was live); with none, the generic labeller (built once per code
    version), so that the first image a new user drops gets labels. A cached artifact made
    before file digests is skipped, never half-trusted."""
    home = home or imgclf_home()
    uploaded: list[str] = []
    for version, tarball in cached_artifacts(home):
        if made_before_digests(tarball):
            stderr.print(
                f"skipping cached model {version}: made before file digests; rebuild it",
                markup=False,
            )
            continue
        try:
            upload_artifact(deployment, tarball, version)
        except CliError as error:  # two cached builds under one version: the older one stays
            stderr.print(f"skipping cached model {version}: {error}", markup=False, soft_wrap=True)
            continue
        uploaded.append(version)
    remembered = last_promoted(home)
    for version in sorted(reversed(uploaded), key=lambda v: v != remembered):
        try:  # only the one promoted here last is forced (as it may have been): a model that
            # failed its quality gate is not made live unasked; none that cannot run is
            promote(deployment, version, force=version == remembered)
        except CliError as error:
            stderr.print(f"skipping cached model {version}: {error}", markup=False, soft_wrap=True)
            continue
        return version
    from .model_generic import home_generic, publish

    stderr.print("no usable model cached: building the generic labeller (once per code version)")
    model = home_generic(home)
    return publish(deployment, model, force=True)


def made_before_digests(tarball: Path) -> bool:
    """Whether a cached model.tar.gz records no file digests (or cannot be read at all)."""
    try:
        return not metadata_in_tarball(tarball.read_bytes()).get("files")
    except (ArtifactError, OSError):
        return True


def ensure_not_running() -> IO[str]:
    """This process's claim on the home's local environment (close it to give it up), or a
    CliError when another `local up` holds it or a running environment's state says so."""
    state = running_local_state()
    if state is not None:
        raise CliError(
            f"a local environment is already running (pid {state.get('pid')}, "
            f"{state.get('endpoint_url')})"
        )
    claim = claim_home()
    if claim is None:  # one that has not written its state file yet: it is still starting
        raise CliError(
            f"a local environment is already starting in {imgclf_home()} "
            "(another `imgclf local up`)"
        )
    return claim


def load_fault_plan(path: Path | None) -> FaultPlan | None:
    """The plan `--faults FILE` names, or None; a bad file is a one-line CliError."""
    if path is None:
        return None
    try:
        return FaultPlan.load(path)
    except FaultPlanError as error:
        raise CliError(str(error)) from None


def up(
    *,
    workers: int | None,
    visibility_timeout: int | None,
    seed: bool,
    verbose: bool,
    faults_file: Path | None = None,
    tags: str | None = None,
) -> int:
    """Run until Ctrl-C (or SIGTERM); state lives only while it runs. `tags`: the imgclf
    tags written, instead of the local block's `tags` setting."""
    plan = load_fault_plan(faults_file)
    config = local_config(tags)
    claim = ensure_not_running()
    try:
        return _serve(
            workers=workers,
            visibility_timeout=visibility_timeout,
            seed=seed,
            verbose=verbose,
            plan=plan,
            faults_file=faults_file,
            config=config,
        )
    finally:
        claim.close()


def local_config(tags: str | None) -> EnvironmentConfig:
    """cdk.json's local settings, with `tags` in place of its own when given; one-line
    CliErrors for a bad setting."""
    try:
        config = load_environment(LOCAL_ENV)
        return config if tags is None else dataclasses.replace(config, tags=tags)
    except ConfigError as error:
        raise CliError(f"--tags: {error}" if tags is not None else str(error)) from None


def _serve(
    *,
    workers: int | None,
    visibility_timeout: int | None,
    seed: bool,
    verbose: bool,
    plan: FaultPlan | None,
    faults_file: Path | None,
    config: EnvironmentConfig,
) -> int:
    """Start the environment, serve until interrupted, and stop it."""
    lock = threading.Lock()

    def report(outcome: BatchOutcome) -> None:
        if outcome.failed or verbose:
            with lock:
                colour = "red" if outcome.failed else "green"
                stderr.print(
                    f"[{colour}]batch of {outcome.size}: {outcome.succeeded} done, "
                    f"{outcome.failed} to retry[/] ({outcome.seconds * 1000:.0f} ms)"
                    + (f" {outcome.error}" if outcome.error else "")
                )

    environment = LocalEnvironment(
        config,
        workers=workers,
        visibility_timeout_seconds=visibility_timeout,
        quiet_function=not verbose,
        on_batch=report,
        faults=plan,
    )

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Both raise KeyboardInterrupt, even where a shell started us with SIGINT ignored.
    previous = {sig: signal.signal(sig, on_term) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # The state file comes after the seeded model is live: an upload through the CLI
        # before then would find no model and wait out a visibility timeout.
        environment.start(announce=False)
        deployment = deployment_of(environment, imgclf_home())
        live = seed_models(deployment) if seed else None
        environment.announce()
        assert environment.resources is not None
        resources = environment.resources
        stdout.print(f"[bold]imgclf local environment[/] on {environment.endpoint_url}")
        stdout.print(f"  images bucket  s3://{resources.images_bucket}")
        stdout.print(f"  models bucket  s3://{resources.models_bucket}/{MODELS_PREFIX}")
        stdout.print(f"  results table  {resources.results_table}")
        stdout.print(f"  queue / DLQ    {resources.queue_url} / {resources.dead_letter_queue_url}")
        stdout.print(f"  workers        {environment.workers}")
        written = ",".join(sorted(config.tag_names)) or "none"
        stdout.print(f"  imgclf tags    {written} (local up --tags)")
        stdout.print(f"  live model     {live or 'none (imgclf --env local train --promote)'}")
        if plan is not None:
            stdout.print(f"  [yellow]faults         {faults_file} (seed {plan.seed})[/]")
        # The AWS CLI signs every request: any credentials do, but it needs some, and a region
        credentials = " ".join(f"{name}={value}" for name, value in DUMMY_CREDENTIALS.items())
        stdout.print(
            f"  try            {credentials} AWS_DEFAULT_REGION={environment.region} "
            f"aws --endpoint-url {environment.endpoint_url} s3 cp cat.jpg "
            f"s3://{resources.images_bucket}/",
            soft_wrap=True,
        )
        stdout.print("State lives only while this runs. Ctrl-C stops it and drops everything.")
        environment.wait()
    except KeyboardInterrupt:
        stderr.print("stopping…")
    finally:
        environment.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if environment.poller is not None:
        stats = environment.poller.stats.snapshot()
        stdout.print(
            f"stopped: {stats['invocations']} invocations, {stats['succeeded']} records done, "
            f"{stats['failed']} retried"
        )
    if environment.injector is not None and plan is not None:
        injected = environment.injector.counts()
        shown = ", ".join(f"{kind} {count}" for kind, count in sorted(injected.items()))
        stdout.print(f"faults injected: {shown or 'none'}")
    return 0
