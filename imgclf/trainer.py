"""`imgclf train`: local CPU training, packing and upload; or the deployed state machine."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier.artifact_files import pack_artifact, read_metadata
from classifier.contracts import model_version_problem, new_model_version
from infra.local import imgclf_home
from training.config import TrainConfig
from training.options import (
    cli_option_names,
    command_line,
    default_dataset,
    defaults,
    sagemaker_hyperparameters,
)

from .deployment import resolve
from .errors import CliError
from .models import promote, upload_artifact
from .output import native_stderr_to, progress, stderr, stdout
from .packed import VERSION_FILE

EpochCallback = Callable[[int, int, dict[str, Any]], None]


# The option values an `imgclf train` run hands to training; the CLI's own --version is
# passed separately. A unit test keeps these fields equal to training's `cli` options.
SETTINGS_OPTIONS = tuple(name for name in cli_option_names(TrainConfig) if name != "version")


@dataclass(frozen=True)
class TrainingSettings:
    """What a local training run is given; None leaves training's own default."""

    dataset: str = defaults(TrainConfig)["dataset"]
    data_dir: Path | None = None
    epochs: int | None = None
    image_size: int | None = None
    arch: str | None = None
    images_per_class: int | None = None
    seed: int | None = None
    extra_train_dir: Path | None = None
    outside_dir: Path | None = None
    imagenet_mapping: str | None = None
    extra: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TrainingSettings:
        """The `imgclf train` flags that were given."""
        given = {name: getattr(args, name) for name in SETTINGS_OPTIONS}
        return cls(**{name: value for name, value in given.items() if value is not None})

    def argv(
        self, *, model_dir: Path, output_dir: Path, version: str, generated_dir: Path | None = None
    ) -> list[str]:
        """training.train's command line for these settings.

        Generated data sets (emoji, digits) render into `generated_dir` unless a data dir is
        given: training only renders into an empty folder, so the folder must be per settings.
        """
        dataset = default_dataset(self.dataset, data_dir_given=self.data_dir is not None)
        argv = ["--dataset", dataset, "--model-dir", str(model_dir)]
        argv += ["--output-dir", str(output_dir), "--version", version, "--artifact", "none"]
        argv += ["--verbose", "0"]  # the progress bar reports epochs
        values = {name: getattr(self, name) for name in SETTINGS_OPTIONS if name != "dataset"}
        if self.data_dir is None and dataset != "folder":
            values["data_dir"] = generated_dir
        return argv + command_line(TrainConfig, values) + list(self.extra)

    def to_dict(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in SETTINGS_OPTIONS}
        values["data_dir"] = str(self.data_dir) if self.data_dir else None
        for name in ("extra_train_dir", "outside_dir"):
            path = getattr(self, name)
            values[name] = str(path) if path else None
        return {**values, "extra": list(self.extra)}


def run_training(
    settings: TrainingSettings,
    *,
    model_dir: Path,
    work_dir: Path,
    version: str,
    on_epoch: EpochCallback | None = None,
) -> Path:
    """Train with training.train on the CPU; the model dir receives the artifact files."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        from training.config import parse_args
        from training.train import BAD_INPUT_ERRORS
        from training.workflow import run
    except ImportError as error:
        raise CliError(f"training is not available here: {error}") from None
    argv = settings.argv(
        model_dir=model_dir, output_dir=work_dir, version=version, generated_dir=work_dir / "data"
    )
    try:
        result = run(parse_args(argv, os.environ), progress=on_epoch)
    except BAD_INPUT_ERRORS as error:
        raise CliError(f"training failed: {error}") from None
    if not result.passed:
        stderr.print(f"[yellow]model {version} did not pass its quality gate[/]")
    return model_dir


def train_to_cache(
    settings: TrainingSettings, *, target: Path, version: str, label: str = "training"
) -> Path:
    """Train into target/model, pack target/model.tar.gz, write target/VERSION; with a bar."""
    model_dir = target / "model"
    with progress() as bar:
        task = bar.add_task(label, total=None)

        def on_epoch(epoch: int, total: int, logs: dict[str, Any]) -> None:
            accuracy = logs.get("val_accuracy", logs.get("accuracy"))
            detail = f" val acc {accuracy:.3f}" if isinstance(accuracy, float) else ""
            bar.update(task, completed=epoch, total=total, description=f"{label}{detail}")

        run_training(
            settings,
            model_dir=model_dir,
            work_dir=target / "work",
            version=version,
            on_epoch=on_epoch,
        )
    tarball = pack_artifact(model_dir, target / "model.tar.gz")
    (target / VERSION_FILE).write_text(version + "\n")
    return tarball


def train_command(args: argparse.Namespace) -> int:
    check_version_option(args.version)
    deployment = resolve(args.env)
    if args.force and not args.promote:
        raise CliError("--force only applies with --promote")
    if args.cloud:
        return _train_in_cloud(deployment, args)
    if args.dataset == "folder" and args.data_dir is None:
        raise CliError("--dataset folder needs --data-dir")
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise CliError(f"no such folder: {args.data_dir}")
    version = args.version or new_model_version()
    settings = TrainingSettings.from_args(args)
    target = imgclf_home() / "models" / version
    # TensorFlow's and LiteRT's C++ start-up lines go to a log, not the terminal.
    with native_stderr_to(target / "native.log"):
        tarball = train_to_cache(
            settings, target=target, version=version, label=f"training {version}"
        )
    metadata = read_metadata(target / "model")
    uri = upload_artifact(deployment, tarball, version)
    stdout.print(f"model {version} uploaded to {uri}")
    stdout.print(f"report: {target / 'model' / 'report'}")
    metrics = metadata.metrics
    stdout.print(json.dumps({"metrics": _headline(metrics), "gate": metadata.gate}))
    if args.promote:
        promote(deployment, version, force=args.force)
        stdout.print(f"model {version} is live in {deployment.env}")
    return 0


def check_version_option(version: str | None) -> None:
    """A given --version must name a model version (models/<version>/, the training job)."""
    problem = None if version is None else model_version_problem(version)
    if problem is not None:
        raise CliError(f"--version {version!r} is not valid: {problem}")


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if isinstance(v, int | float)}


def _train_in_cloud(deployment: Any, args: argparse.Namespace) -> int:
    if deployment.is_local:
        raise CliError("--cloud starts the deployed state machine; the local environment has none")
    version = args.version or new_model_version()
    # The given flags that are training hyperparameters, as strings SageMaker decodes back.
    hyperparameters = sagemaker_hyperparameters(TrainConfig, vars(args))
    execution = deployment.client("stepfunctions").start_execution(
        stateMachineArn=deployment.state_machine_arn,
        name=f"train-{version}",
        input=json.dumps(
            {
                "version": version,
                "promote": bool(args.promote),
                "force": bool(args.force),
                "hyperparameters": hyperparameters,
            }
        ),
    )
    stdout.print(f"training {version} started: {execution['executionArn']}")
    return 0
