"""Fitting a model: the distribution strategy, the phases, the callbacks and resuming.

Everything that creates or touches TensorFlow variables (building, compiling, fitting,
loading weights) runs inside one strategy's scope: MirroredStrategy refuses variables from
another strategy ("Mixing different tf.distribute.Strategy objects").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from training import pipeline
from training.data import class_weights
from training.networks import make_model, unfreeze_top
from training.options import TRANSFER_ARCHITECTURES
from training.prepare import PreparedData
from training.train_config import ResolvedConfig

log = logging.getLogger("training")

ProgressCallback = Callable[[int, int, dict[str, float]], None]
EVAL_BATCH_SIZE = 64
# "mirrored" takes the GPU branch without GPUs: MirroredStrategy over every logical CPU,
# with mixed precision. Tests split the CPU in two to run that branch.
DISTRIBUTION_VARIABLE = "IMGCLF_FORCE_DISTRIBUTION"
MIXED_PRECISION = "mixed_float16"


class TrainingError(RuntimeError):
    """Training cannot go on: weights unavailable, nothing to train on, and the like."""


@dataclass(frozen=True)
class FitOutcome:
    """The merged Keras history of all phases and where fine-tuning began."""

    history: dict[str, list[float]]
    fine_tune_from: int | None
    train_seconds: float


@contextlib.contextmanager
def distribution(env: Mapping[str, str] | None = None) -> Iterator[tf.distribute.Strategy]:
    """The strategy to build and fit in, with mixed precision on its GPU branch.

    GPUs (or $IMGCLF_FORCE_DISTRIBUTION=mirrored): MirroredStrategy and mixed_float16.
    Otherwise the default strategy. The global precision policy is restored on exit.
    """
    forced = (env if env is not None else os.environ).get(DISTRIBUTION_VARIABLE, "")
    if forced not in ("", "mirrored"):
        raise TrainingError(f"{DISTRIBUTION_VARIABLE} must be 'mirrored' or unset, not {forced!r}")
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and not forced:
        yield tf.distribute.get_strategy()
        return
    devices = None if gpus else [device.name for device in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(MIXED_PRECISION)
    log.info(
        "training on %d %s with mixed precision",
        strategy.num_replicas_in_sync,
        "GPU(s)" if gpus else "logical CPUs",
    )
    try:
        with strategy.scope():
            yield strategy
    finally:
        keras.mixed_precision.set_global_policy(previous)


def build_model(config: ResolvedConfig, num_classes: int, weights: str) -> keras.Model:
    """The configured network; a failed weights download is a TrainingError with a way out."""
    size = config.image_size
    if config.arch == "cnn":
        return make_model((size, size, 3), num_classes, arch="cnn")
    resolved = resolve_weights(weights, config.checkpoints / "weights")
    try:
        return make_model(
            (size, size, 3), num_classes, arch=config.arch, weights=resolved, alpha=config.alpha
        )
    except ImportError:
        raise
    except Exception as error:  # Keras raises several types for a failed download
        if resolved == "imagenet":
            raise TrainingError(
                f"cannot load the imagenet weights for {config.arch} ({_one_line(error)}); "
                "pass --weights none or --weights PATH to a weights file"
            ) from error
        raise TrainingError(
            f"cannot load {config.arch} weights {resolved}: {_one_line(error)}"
        ) from error


def resolve_weights(weights: str, cache_dir: Path) -> str | None:
    """imagenet, none, a local file, or an s3:// object downloaded once."""
    if weights.lower() == "none":
        return None
    if weights.lower() == "imagenet":
        return "imagenet"
    if weights.startswith("s3://"):
        import boto3  # only in SageMaker or with the cli extra; local files need no boto3

        bucket, _, key = weights[len("s3://") :].partition("/")
        target = cache_dir / Path(key).name
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            boto3.client("s3").download_file(bucket, key, str(target))
        return str(target)
    if not Path(weights).is_file():
        raise TrainingError(f"weights file {weights} does not exist")
    return weights


def fit(
    model: keras.Model,
    config: ResolvedConfig,
    data: PreparedData,
    progress: ProgressCallback | None,
    replicas: int,
) -> FitOutcome:
    """Train in one phase (CNN) or two (frozen base, then fine-tuning); resumable.

    Call it inside the scope the model was built in (`distribution()`).
    """
    started = time.monotonic()
    batch_size = config.batch_size * replicas
    train_ds = pipeline.training_dataset(
        data.train.images,
        data.train.label_ids,
        batch_size=batch_size,
        seed=config.seed,
        augmentation=config.augmentation,
    )
    has_validation = len(data.validation.label_ids) > 0
    validation_ds = (
        pipeline.evaluation_dataset(
            data.validation.images, data.validation.label_ids, batch_size=EVAL_BATCH_SIZE
        )
        if has_validation
        else None
    )
    steps = math.ceil(len(data.train.label_ids) / batch_size)
    phases = [("train", config.epochs, config.learning_rate)]
    if config.arch in TRANSFER_ARCHITECTURES and config.fine_tune_epochs > 0:
        phases.append(("fine_tune", config.fine_tune_epochs, config.learning_rate / 10))
    total_epochs = sum(epochs for _, epochs, _ in phases)
    directory = run_dir(config, data.info["fingerprint"])
    directory.mkdir(parents=True, exist_ok=True)
    history: dict[str, list[float]] = {}
    fine_tune_from = None
    best_val_loss = math.inf
    for name, epochs, learning_rate in phases:
        done_epochs = len(history.get("loss", []))
        if name == "fine_tune":
            fine_tune_from = done_epochs
            unfreeze_top(model, config.fine_tune_layers)
        model.compile(
            optimizer=keras.optimizers.Adam(
                keras.optimizers.schedules.CosineDecay(
                    learning_rate, decay_steps=max(1, epochs * steps), alpha=0.02
                )
            ),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        finished_weights = directory / f"{name}.weights.h5"
        finished_history = directory / f"{name}.history.json"
        if finished_weights.is_file() and finished_history.is_file():
            # An interrupted job (a reclaimed spot instance) skips the phases it completed.
            log.info("resuming: phase %s was completed before", name)
            model.load_weights(finished_weights)
            phase_history = json.loads(finished_history.read_text())
        else:
            best_file = directory / f"{name}.best.weights.h5"
            callbacks = _callbacks(
                config,
                directory / f"{name}.backup",
                best_file,
                has_validation,
                best_val_loss,
                progress,
                total_epochs,
            )
            fitted = model.fit(
                train_ds,
                validation_data=validation_ds,
                initial_epoch=done_epochs,
                epochs=done_epochs + epochs,
                class_weight=class_weights(data.train.label_ids, len(data.labels)),
                callbacks=callbacks,
                shuffle=False,  # the dataset shuffles itself
                verbose=config.verbose,
            )
            phase_history = {k: [float(v) for v in vs] for k, vs in fitted.history.items()}
            if best_file.is_file():
                model.load_weights(best_file)
            model.save_weights(finished_weights)
            finished_history.write_text(json.dumps(phase_history))
        for key, values in phase_history.items():
            history.setdefault(key, []).extend(values)
        if history.get("val_loss"):
            best_val_loss = min(history["val_loss"])
    return FitOutcome(
        history=history,
        fine_tune_from=fine_tune_from,
        train_seconds=time.monotonic() - started,
    )


def run_dir(config: ResolvedConfig, data_fingerprint: str) -> Path:
    """Resume state for this exact job: same settings and same data, whatever the version."""
    key = json.dumps(
        {"hyperparameters": config.hyperparameters(), "data": data_fingerprint},
        sort_keys=True,
        default=str,
    )
    return config.checkpoints / f"run-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _callbacks(
    config: ResolvedConfig,
    backup_dir: Path,
    best_file: Path,
    has_validation: bool,
    best_val_loss: float,
    progress: ProgressCallback | None,
    total_epochs: int,
) -> list[keras.callbacks.Callback]:
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.BackupAndRestore(str(backup_dir)),
        keras.callbacks.TensorBoard(
            log_dir=str(config.output_dir / "tensorboard"), write_graph=False, profile_batch=0
        ),
    ]
    if has_validation:
        callbacks += [
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=config.patience, restore_best_weights=True
            ),
            keras.callbacks.ModelCheckpoint(
                str(best_file),
                monitor="val_loss",
                save_best_only=True,
                save_weights_only=True,
                initial_value_threshold=best_val_loss if math.isfinite(best_val_loss) else None,
            ),
        ]
    if progress is not None:
        callbacks.append(EpochProgress(progress, total_epochs))
    return callbacks


class EpochProgress(keras.callbacks.Callback):  # type: ignore[misc]  # keras is untyped
    """Reports (epoch, total, logs) after each epoch."""

    def __init__(self, report: ProgressCallback, total_epochs: int) -> None:
        super().__init__()
        self._report = report
        self._total = total_epochs

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._report(epoch + 1, self._total, {k: float(v) for k, v in (logs or {}).items()})


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:300] or type(error).__name__
