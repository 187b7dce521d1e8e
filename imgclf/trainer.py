"""`imgclf train`: local CPU training, packing and upload; or the deployed state machine."""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifier.artifact import RULE_DISABLED, RULE_FIXED, UnknownRule
from classifier.artifact_files import pack_artifact, read_metadata
from classifier.contracts import DATA_PREFIX, model_version_problem, new_model_version
from infra.local import imgclf_home
from training.layout import MAX_LISTED_NAMES
from training.options import (
    AUTO,
    NONE,
    checked_values,
    cli_option_names,
    command_line,
    default_dataset,
    sagemaker_hyperparameters,
)
from training.train_config import GENERATED_DATASETS, TrainConfig

from .deployment import resolve
from .errors import CliError
from .models import promote, require_new_version, upload_artifact
from .output import (
    NATIVE_LOG,
    TRAINING_LOGGER,
    logger_handled_by,
    native_stderr_to,
    progress,
    stderr,
    stdout,
)
from .packed import VERSION_FILE
from .s3_data import S3Prefix, fetch_data_set, is_s3_uri, list_data_set, parse_s3_uri

EpochCallback = Callable[[int, int, dict[str, Any]], None]


# Options the run sets itself (`TrainingSettings.argv`): where the model goes, its version,
# no packing (the cache packs) and a quiet log (the progress bar reports epochs).
RUN_OPTIONS = ("model_dir", "output_dir", "version", "artifact_path", "verbose")
# The `imgclf train` flags a run hands to training; the CLI's own --version goes separately.
SETTINGS_OPTIONS = tuple(name for name in cli_option_names(TrainConfig) if name not in RUN_OPTIONS)


@dataclass(frozen=True, init=False)
class TrainingSettings:
    """Training option values for a local run, by TrainConfig field name and typed, each
    checked against its declaration (training/options.py): `TrainingSettings(epochs=8,
    fine_tune_epochs=4)`. An option not given keeps training's own default."""

    given: tuple[tuple[str, Any], ...]  # (name, value), sorted by name

    def __init__(self, **values: Any) -> None:
        checked = checked_values(TrainConfig, values, excluded=RUN_OPTIONS)
        object.__setattr__(self, "given", tuple(sorted(checked.items())))

    @classmethod
    def from_args(cls, args: argparse.Namespace, **overrides: Any) -> TrainingSettings:
        """The `imgclf train` flags that were given, with `overrides` (the local data dir)."""
        given = {name: getattr(args, name) for name in SETTINGS_OPTIONS}
        return cls(**{**given, **overrides})

    @property
    def values(self) -> dict[str, Any]:
        return dict(self.given)

    def get(self, name: str) -> Any:
        """The value given for an option; None when training's default applies."""
        return self.values.get(name)

    def with_values(self, **changes: Any) -> TrainingSettings:
        return TrainingSettings(**{**self.values, **changes})

    @property
    def dataset(self) -> str:
        """The data set these settings train on ("auto": decided by the data dir)."""
        return default_dataset(self.get("dataset"), data_dir_given=self.get("data_dir") is not None)

    def argv(
        self, *, model_dir: Path, output_dir: Path, version: str, generated_dir: Path | None = None
    ) -> list[str]:
        """training.train's command line for these settings.

        Generated data sets (emoji, digits) render into `generated_dir` unless a data dir is
        given: training only renders into an empty folder, so the folder must be per settings.
        """
        values = {
            **self.values,
            "dataset": self.dataset,
            "model_dir": model_dir,
            "output_dir": output_dir,
            "version": version,
            "artifact_path": "none",
            "verbose": 0,
        }
        if self.get("data_dir") is None and self.dataset != "folder":
            values["data_dir"] = generated_dir
        return command_line(TrainConfig, values)

    def to_dict(self) -> dict[str, Any]:
        """The given values as JSON (paths as text): what a cached model was trained with."""
        return {
            name: str(value) if isinstance(value, Path) else value for name, value in self.given
        }


def run_training(
    settings: TrainingSettings,
    *,
    model_dir: Path,
    work_dir: Path,
    version: str,
    on_epoch: EpochCallback | None = None,
    data_shown_as: str | None = None,
) -> Path:
    """Train with training.train on the CPU; the model dir receives the artifact files.

    Files training could not read are listed afterwards from what model.json records, those
    of the data dir under `data_shown_as` (the s3:// prefix it was downloaded from).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        from training.train import BAD_INPUT_ERRORS
        from training.train_config import parse_args
        from training.workflow import run
    except ImportError as error:
        raise CliError(f"training is not available here: {error}") from None
    argv = settings.argv(
        model_dir=model_dir, output_dir=work_dir, version=version, generated_dir=work_dir / "data"
    )
    held: list[str] = []
    try:
        with _training_warnings(held):
            result = run(parse_args(argv, os.environ), progress=on_epoch)
    except BAD_INPUT_ERRORS as error:
        _print_lines(held)
        raise CliError(f"training failed: {error}") from None
    data_dir = settings.get("data_dir")
    shown = data_shown_as or str(data_dir)
    _print_lines(skipped_file_lines(result.metadata.dataset, data_dir, shown))
    _print_lines(unknown_note_lines(result.metadata.unknown, version))
    if not result.passed:
        stderr.print(f"[yellow]model {version} did not pass its quality gate[/]")
    return model_dir


def train_to_cache(
    settings: TrainingSettings,
    *,
    target: Path,
    version: str,
    label: str = "training",
    data_shown_as: str | None = None,
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
            data_shown_as=data_shown_as,
        )
    tarball = pack_artifact(model_dir, target / "model.tar.gz")
    (target / VERSION_FILE).write_text(version + "\n")
    return tarball


def train_command(args: argparse.Namespace) -> int:
    check_build_options(args)
    deployment = resolve(args.env)
    if args.version:
        require_new_version(deployment, args.version)
    if args.cloud:
        return _train_in_cloud(deployment, args)
    if args.dataset == "folder" and args.data_dir is None:
        raise CliError("--dataset folder needs --data-dir")
    if args.dataset in GENERATED_DATASETS and args.data_dir is not None:
        raise CliError(
            f"--dataset {args.dataset} renders its own images; --data-dir is for your own "
            "(leave --dataset out)"
        )
    # The values only: the data dir (a folder or an S3 prefix) is checked below
    check_settings(TrainingSettings.from_args(args, data_dir=args.data_dir and Path()))
    data_dir, shown = training_data(deployment, args.data_dir, args.dataset)
    version = args.version or new_model_version()
    settings = TrainingSettings.from_args(args, data_dir=data_dir)
    target = imgclf_home() / "models" / version
    # TensorFlow's and LiteRT's C++ start-up lines go to a log, not the terminal.
    with native_stderr_to(target / NATIVE_LOG):
        tarball = train_to_cache(
            settings,
            target=target,
            version=version,
            label=f"training {version}",
            data_shown_as=shown,
        )
    metadata = read_metadata(target / "model")
    upload = upload_artifact(deployment, tarball, version)
    stdout.print(f"model {version} {upload.outcome()}")
    stdout.print(f"report: {target / 'model' / 'report'}")
    metrics = metadata.metrics
    stdout.print(json.dumps({"metrics": _headline(metrics), "gate": metadata.gate}))
    if args.promote:
        promote(deployment, version, force=args.force)
        stdout.print(f"model {version} is live in {deployment.env}")
    return 0


def check_settings(settings: TrainingSettings) -> None:
    """What training would refuse only once it started, refused first: its own checks of the
    values (training.train_config: epochs, image size, fractions), and the folders and the
    mapping file the flags name."""
    from training.train_config import ConfigError, parse_args

    argv = settings.argv(model_dir=Path(), output_dir=Path(), version=new_model_version())
    try:
        parse_args(argv, {}).resolved()
    except ConfigError as error:
        raise CliError(str(error)) from None
    for name in ("extra_train_dir", "outside_dir", "outside_train_dir"):
        folder = settings.get(name)
        if folder is not None and not Path(folder).is_dir():
            raise CliError(f"--{name.replace('_', '-')}: no such folder: {folder}")
    mapping = settings.get("imagenet_mapping")
    if mapping is not None and mapping.lower() not in (AUTO, NONE) and not Path(mapping).is_file():
        raise CliError(f"--imagenet-mapping: no such file: {mapping} (or use auto or none)")


def training_data(
    deployment: Any, data_dir: Path | str | None, dataset: str | None
) -> tuple[Path | None, str]:
    """The local folder training reads, and how to show it: a folder as given, checked; or an
    S3 prefix (one per label), checked, then downloaded into the cache."""
    if data_dir is None:
        return None, ""
    if is_s3_uri(data_dir):
        s3 = deployment.client("s3")
        data = list_data_set(s3, parse_s3_uri(str(data_dir)))
        _print_lines(data.notes())
        return fetch_data_set(s3, data, imgclf_home()), data.location.uri
    folder = Path(data_dir)
    if not folder.is_dir():
        raise CliError(f"no such folder: {folder}")
    if default_dataset(dataset, data_dir_given=True) == "folder":
        _check_folder(folder)
    return folder, str(folder)


def skipped_file_lines(dataset: Mapping[str, Any], data_dir: Path | None, shown: str) -> list[str]:
    """model.json's unreadable files, one line each with its reason: at most MAX_LISTED_NAMES,
    then how many more. Files of the data dir are shown under the name it was given by."""
    count = int(dataset.get("skipped_unreadable") or 0)
    listed = list(dataset.get("skipped_files") or [])[:MAX_LISTED_NAMES]
    if not count:
        return []
    lines = [f"skipped {count} unreadable {'file' if count == 1 else 'files'}:"]
    for entry in listed:
        lines.append(
            f"  {_shown_file(str(entry.get('file')), data_dir, shown)}: {entry.get('reason')}"
        )
    if count > len(listed):
        lines.append(f"  and {count - len(listed)} more")
    return lines


def check_build_options(args: argparse.Namespace) -> None:
    """The flags every command that builds a model has: a given --version must name a model
    version (models/<version>/, the training job), and --force goes with --promote."""
    version = args.version
    problem = None if version is None else model_version_problem(version)
    if problem is not None:
        raise CliError(f"--version {version!r} is not valid: {problem}")
    if args.force and not args.promote:
        raise CliError("--force only applies with --promote")


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if isinstance(v, int | float)}


def _train_in_cloud(deployment: Any, args: argparse.Namespace) -> int:
    if deployment.is_local:
        raise CliError("--cloud starts the deployed state machine; the local environment has none")
    version = args.version or new_model_version()
    # The given flags that are training hyperparameters, as strings SageMaker decodes back.
    hyperparameters = sagemaker_hyperparameters(TrainConfig, vars(args))
    execution_input: dict[str, Any] = {
        "version": version,
        "promote": bool(args.promote),
        "force": bool(args.force),
        "hyperparameters": hyperparameters,
    }
    if args.data_dir is not None:
        execution_input["data_uri"] = _cloud_data_uri(deployment, args.data_dir)
    execution = deployment.client("stepfunctions").start_execution(
        stateMachineArn=deployment.state_machine_arn,
        name=f"train-{version}",
        input=json.dumps(execution_input),
    )
    stdout.print(f"training {version} started: {execution['executionArn']}")
    return 0


def _cloud_data_uri(deployment: Any, data_dir: Path | str) -> str:
    """The training channel for --cloud: a prefix the training job may read, checked here so
    a bad layout fails in one line before any job starts."""
    if not is_s3_uri(data_dir):
        raise CliError(
            f"--cloud trains on S3: upload {data_dir} to "
            f"s3://{deployment.models_bucket}/{DATA_PREFIX}<name>/ (a prefix per label) "
            "and pass that as --data-dir"
        )
    location = parse_s3_uri(str(data_dir))
    readable = S3Prefix(deployment.models_bucket, DATA_PREFIX)
    # The training role reads only the models bucket's data/ prefix (training_job.py).
    if location.bucket != readable.bucket or not location.prefix.startswith(readable.prefix):
        raise CliError(
            f"the training job reads only {readable.uri}; copy {location.uri} under it "
            f"(aws s3 sync {location.uri} {readable.uri}<name>/) and pass that as --data-dir"
        )
    data = list_data_set(deployment.client("s3"), location)
    _print_lines(data.notes())
    return location.uri


def _check_folder(folder: Path) -> None:
    """A local folder of the user's images meets the layout rules training applies."""
    from training.data import DataError, check_layout, folder_layout, list_class_files

    try:
        check_layout(folder_layout(list_class_files(folder), folder))
    except DataError as error:
        raise CliError(str(error)) from None
    # Files directly under it are named by training's own warning, which imgclf prints.


def _shown_file(file: str, data_dir: Path | None, shown: str) -> str:
    """A file of the data dir as `<data dir as given>/<relative path>`; others as they are."""
    if data_dir is None:
        return file
    try:
        relative = Path(file).relative_to(data_dir).as_posix()
    except ValueError:
        return file
    return (shown if shown.endswith("/") else shown + "/") + relative


def unknown_note_lines(rule: UnknownRule, version: str) -> list[str]:
    """A line saying why a trained model's "unknown" rule was not chosen on its photos (too
    few validation photos to keep its budget): it has the fixed rule, or, when its outputs
    carry no evidence of something else, none (every image will get a label)."""
    reason = str(rule.details.get("chosen_by", ""))
    if rule.active and reason.startswith(RULE_FIXED):
        caught = (rule.details.get("outside") or {}).get("caught")
        outside = f" (it caught {caught:.0%} of the outside photos)" if caught is not None else ""
        why = reason.removeprefix(f"{RULE_FIXED}: ")
        return [f"note: model {version}'s 'unknown' rule is fixed, not chosen: {why}{outside}"]
    if rule.active or not reason.startswith(RULE_DISABLED):
        return []
    return [
        f"note: model {version} has no 'unknown' rule: {reason.removeprefix(f'{RULE_DISABLED}: ')}"
    ]


def _print_lines(lines: list[str]) -> None:
    for line in lines:
        stderr.print(line, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def _training_warnings(held: list[str]) -> Iterator[None]:
    """Training's warnings on stderr as they come, except its per-file skips: imgclf lists
    those from model.json once training ends, and `held` keeps them in case it fails."""
    from training.prepare import SKIPPED_FILE_LOG

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.msg == SKIPPED_FILE_LOG:
                held.append(record.getMessage())
            else:
                _print_lines([record.getMessage()])

    with logger_handled_by(TRAINING_LOGGER, Handler(logging.WARNING)):
        yield
