"""The training entry point, for SageMaker script mode and for a laptop CPU alike.

    python -m training.train --dataset emoji            # locally, generates its data
    python train.py --epochs 20                         # SageMaker, from the source dir

It trains, evaluates the float and the int8 model on the test split through the Lambda's
preprocessing, writes model.tflite, labels.json, model.json and report/ into the model
directory, and exits non-zero when the quality gate fails.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if not __package__:
    # SageMaker runs `python train.py`: make `training` and `classifier` importable, and
    # keep this folder off the path so its modules (data, model, ...) shadow nothing.
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    for _path in (_here.parent / "functions", _here.parent):
        if _path.is_dir() and str(_path) not in sys.path:
            sys.path.insert(0, str(_path))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

import hashlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Mapping  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from classifier.artifact import ModelMetadata, pack_artifact, write_artifact_dir  # noqa: E402
from classifier.imaging import InputSpec  # noqa: E402
from training import export, pipeline  # noqa: E402
from training.config import ConfigError, TrainConfig, parse_args  # noqa: E402
from training.data import (  # noqa: E402
    DataError,
    LoadedImages,
    class_counts,
    class_weights,
    fingerprint,
    list_class_files,
    load_images,
    stratified_split,
)
from training.datasets import digits, emoji  # noqa: E402
from training.datasets.emoji import FontNotFoundError  # noqa: E402
from training.evaluate import Evaluation, int8_predictions, score  # noqa: E402
from training.gate import GateResult, check_gate  # noqa: E402
from training.model import make_model, trainable_summary, unfreeze_top  # noqa: E402
from training.report import write_report  # noqa: E402

log = logging.getLogger("training")

ProgressCallback = Callable[[int, int, dict[str, float]], None]
EVAL_BATCH_SIZE = 64
GENERATED_IMAGE_SIZE = 128  # emoji renders; the model's input size is set by resizing
MAX_LISTED_SKIPS = 20


class TrainingError(RuntimeError):
    """Training cannot go on: weights unavailable, nothing to train on, and the like."""


@dataclass(frozen=True)
class PreparedData:
    """The loaded splits, the labels, and what model.json says about the data set."""

    labels: tuple[str, ...]
    train: LoadedImages
    validation: LoadedImages
    test: LoadedImages
    heldout: LoadedImages | None
    info: dict[str, Any]


@dataclass(frozen=True)
class FitOutcome:
    """The merged Keras history of all phases and where fine-tuning began."""

    history: dict[str, list[float]]
    fine_tune_from: int | None
    train_seconds: float


@dataclass(frozen=True)
class TrainResult:
    """What a run produced: the metadata as written, the gate, and the files."""

    metadata: ModelMetadata
    gate: GateResult
    model_dir: Path
    output_dir: Path
    artifact_path: Path | None
    report_files: dict[str, Path]
    history: dict[str, list[float]] = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.gate.passed


def run(config: TrainConfig, progress: ProgressCallback | None = None) -> TrainResult:
    """Train, evaluate, export and gate one model; progress(epoch, total, logs) per epoch."""
    started = time.monotonic()
    config = config.resolved()
    assert config.image_size is not None and config.learning_rate is not None
    keras.utils.set_random_seed(config.seed)
    spec = InputSpec(height=config.image_size, width=config.image_size)
    data = prepare_data(config, spec)
    log.info(
        "data: %d train, %d validation, %d test images in %d classes%s",
        len(data.train.label_ids),
        len(data.validation.label_ids),
        len(data.test.label_ids),
        len(data.labels),
        f", {data.info['skipped_unreadable']} unreadable skipped"
        if data.info["skipped_unreadable"]
        else "",
    )

    strategy = _distribution()
    with strategy.scope():
        model = _build_model(config, len(data.labels), config.weights)
    outcome = _fit(model, config, data, progress, strategy.num_replicas_in_sync)
    float_model = export.float32_copy(model, lambda: _build_model(config, len(data.labels), "none"))

    float_eval = score(data.test.label_ids, _predict(float_model, data.test), data.labels)
    float_tflite = export.to_float_tflite(float_model)
    representative = export.representative_sample(
        data.train.images, config.representative_count, config.seed
    )
    int8_tflite = export.to_int8_tflite(float_model, representative)
    # The Lambda's model code runs the int8 model: the gate measures what production does.
    provisional = ModelMetadata(version=config.version, input=spec, labels=data.labels)
    int8_predicted, latency_ms = int8_predictions(int8_tflite, provisional, data.test.images)
    int8_eval = score(data.test.label_ids, int8_predicted, data.labels)
    heldout_float = heldout_int8 = None
    if data.heldout is not None:
        heldout_float = score(
            data.heldout.label_ids, _predict(float_model, data.heldout), data.labels
        )
        heldout_predicted, _ = int8_predictions(int8_tflite, provisional, data.heldout.images)
        heldout_int8 = score(data.heldout.label_ids, heldout_predicted, data.labels)

    gate = check_gate(
        float_accuracy=float_eval.accuracy,
        int8_accuracy=int8_eval.accuracy,
        min_int8_accuracy=float(config.min_int8_accuracy or 0.0),
        max_drop_pp=config.max_drop_pp,
        test_count=int8_eval.count,
    )
    report_files = write_report(
        config.model_dir,
        version=config.version,
        labels=data.labels,
        float_eval=float_eval,
        int8_eval=int8_eval,
        gate=gate,
        history=outcome.history,
        heldout_float=heldout_float,
        heldout_int8=heldout_int8,
        fine_tune_from=outcome.fine_tune_from,
    )
    metrics = _metrics(
        config,
        float_eval=float_eval,
        int8_eval=int8_eval,
        heldout_float=heldout_float,
        heldout_int8=heldout_int8,
        float_size=len(float_tflite),
        int8_size=len(int8_tflite),
        latency_ms=latency_ms,
        outcome=outcome,
        model=model,
        wall_seconds=time.monotonic() - started,
    )
    metadata = ModelMetadata(
        version=config.version,
        input=spec,
        labels=data.labels,
        architecture=config.arch,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        metrics=metrics,
        dataset=data.info,
        gate=gate.to_dict(),
    )
    write_artifact_dir(config.model_dir, int8_tflite, metadata)
    artifact = None
    if config.artifact_path is not None:
        artifact = pack_artifact(config.model_dir, config.artifact_path)
    # A finished run leaves no resume state behind: the next run with the same settings
    # must train afresh, not pick up this one's weights.
    shutil.rmtree(_run_dir(config, data), ignore_errors=True)
    _log_summary(metadata, gate)
    return TrainResult(
        metadata=metadata,
        gate=gate,
        model_dir=config.model_dir,
        output_dir=config.output_dir,
        artifact_path=artifact,
        report_files=report_files,
        history=outcome.history,
        wall_seconds=time.monotonic() - started,
    )


def main(argv: list[str] | None = None) -> int:
    """Command line: 0 when the gate passes, 1 when it fails, 2 when training cannot run."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        config = parse_args(argv, os.environ)
        result = run(config)
    except (ConfigError, DataError, TrainingError, FontNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if result.artifact_path is not None:
        log.info("artifact: %s", result.artifact_path)
    log.info("model directory: %s", result.model_dir)
    return 0 if result.passed else 1


def prepare_data(config: TrainConfig, spec: InputSpec) -> PreparedData:
    """Generate the data set if it is a generated one and missing, then load and split it."""
    generated = _ensure_generated(config)
    index = list_class_files(config.data_dir)
    loaded = load_images(index, spec)
    for path, reason in loaded.skipped[:MAX_LISTED_SKIPS]:
        log.warning("skipped %s: %s", path, reason)
    if len(loaded.label_ids) == 0:
        raise DataError(f"{config.data_dir} has no readable images")
    validation_fraction = 0.0 if config.validation_dir else config.validation_fraction
    split = stratified_split(
        loaded.label_ids,
        validation_fraction=validation_fraction,
        test_fraction=config.test_fraction,
        seed=config.seed,
    )
    validation = loaded.subset(split.validation)
    skipped = list(loaded.skipped)
    if config.validation_dir:
        validation = load_images(list_class_files(config.validation_dir, index.labels), spec)
        skipped += validation.skipped
    heldout = None
    heldout_dir = config.heldout
    if heldout_dir is not None and _has_entries(heldout_dir):
        heldout = load_images(list_class_files(heldout_dir, index.labels), spec)
        skipped += heldout.skipped
    train = loaded.subset(split.train)
    info: dict[str, Any] = {
        "name": config.dataset,
        "fingerprint": fingerprint(index.root, index.files),
        "counts": {
            "total": len(loaded.label_ids),
            "train": len(train.label_ids),
            "validation": len(validation.label_ids),
            "test": len(split.test),
            "per_class": class_counts(loaded.label_ids, index.labels),
        },
        "skipped_unreadable": len(skipped),
        "skipped_files": [
            {"file": str(path), "reason": reason} for path, reason in skipped[:MAX_LISTED_SKIPS]
        ],
        "split": {
            "seed": config.seed,
            "validation_fraction": validation_fraction,
            "test_fraction": config.test_fraction,
            "stratified": True,
        },
    }
    if heldout is not None and heldout_dir is not None:
        heldout_index = list_class_files(heldout_dir, index.labels)
        info["heldout"] = {
            "fingerprint": fingerprint(heldout_index.root, heldout_index.files),
            "count": len(heldout.label_ids),
            "per_class": class_counts(heldout.label_ids, index.labels),
        }
    if generated:
        info["generated"] = generated
    return PreparedData(
        labels=index.labels,
        train=train,
        validation=validation,
        test=loaded.subset(split.test),
        heldout=heldout,
        info=info,
    )


def _ensure_generated(config: TrainConfig) -> dict[str, Any]:
    """Render emoji or write digits when their folder is missing or empty."""
    summaries: dict[str, Any] = {}
    if config.dataset == "folder":
        if not _has_entries(config.data_dir):
            raise DataError(f"data directory {config.data_dir} is missing or empty")
        return summaries
    if config.dataset == "digits":
        if not _has_entries(config.data_dir):
            log.info("writing the digits data set to %s", config.data_dir)
            summaries["train"] = _without_counts(
                digits.generate(config.data_dir, image_size=int(config.image_size or 32))
            )
        return summaries
    if not _has_entries(config.data_dir):
        log.info("rendering the emoji data set to %s", config.data_dir)
        summaries["train"] = _without_counts(
            emoji.generate(
                config.data_dir,
                images_per_class=int(config.images_per_class or 1),
                seed=config.seed,
                image_size=GENERATED_IMAGE_SIZE,
            )
        )
    heldout = config.heldout
    if heldout is not None and not _has_entries(heldout) and config.heldout_images_per_class:
        try:
            summaries["heldout"] = _without_counts(
                emoji.generate(
                    heldout,
                    images_per_class=config.heldout_images_per_class,
                    seed=config.seed,
                    image_size=GENERATED_IMAGE_SIZE,
                    glyph_split="heldout",
                )
            )
        except FontNotFoundError as error:
            log.warning("no held-out glyph set: %s", error)
    return summaries


def _fit(
    model: keras.Model,
    config: TrainConfig,
    data: PreparedData,
    progress: ProgressCallback | None,
    replicas: int,
) -> FitOutcome:
    """Train in one phase (CNN) or two (frozen base, then fine-tuning); resumable."""
    started = time.monotonic()
    assert config.epochs is not None and config.learning_rate is not None
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
    if config.arch == "mobilenetv2" and config.fine_tune_epochs > 0:
        phases.append(("fine_tune", config.fine_tune_epochs, config.learning_rate / 10))
    total_epochs = sum(epochs for _, epochs, _ in phases)
    run_dir = _run_dir(config, data)
    run_dir.mkdir(parents=True, exist_ok=True)
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
        finished_weights = run_dir / f"{name}.weights.h5"
        finished_history = run_dir / f"{name}.history.json"
        if finished_weights.is_file() and finished_history.is_file():
            # An interrupted job (a reclaimed spot instance) skips the phases it completed.
            log.info("resuming: phase %s was completed before", name)
            model.load_weights(finished_weights)
            phase_history = json.loads(finished_history.read_text())
        else:
            best_file = run_dir / f"{name}.best.weights.h5"
            callbacks = _callbacks(
                config,
                run_dir / f"{name}.backup",
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


def _callbacks(
    config: TrainConfig,
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
        callbacks.append(_ProgressCallback(progress, total_epochs))
    return callbacks


class _ProgressCallback(keras.callbacks.Callback):
    def __init__(self, report: ProgressCallback, total_epochs: int) -> None:
        super().__init__()
        self._report = report
        self._total = total_epochs

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._report(epoch + 1, self._total, {k: float(v) for k, v in (logs or {}).items()})


def _build_model(config: TrainConfig, num_classes: int, weights: str) -> keras.Model:
    size = int(config.image_size or 0)
    if config.arch == "cnn":
        return make_model((size, size, 3), num_classes, arch="cnn")
    resolved = resolve_weights(weights, config.checkpoints / "weights")
    try:
        return make_model(
            (size, size, 3), num_classes, arch=config.arch, weights=resolved, alpha=config.alpha
        )
    except Exception as error:  # Keras raises several types for a failed download
        if resolved == "imagenet":
            raise TrainingError(
                f"cannot load the imagenet weights for MobileNetV2 ({_one_line(error)}); "
                "pass --weights none or --weights PATH to a weights file"
            ) from error
        raise TrainingError(
            f"cannot load MobileNetV2 weights {resolved}: {_one_line(error)}"
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


def _distribution() -> tf.distribute.Strategy:
    """MirroredStrategy and mixed precision on GPUs; the default strategy on a CPU."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return tf.distribute.get_strategy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    log.info("training on %d GPU(s) with mixed precision", len(gpus))
    return tf.distribute.MirroredStrategy()


def _predict(model: keras.Model, images: LoadedImages) -> np.ndarray:
    """The float model's top class per image."""
    dataset = pipeline.evaluation_dataset(
        images.images, images.label_ids, batch_size=EVAL_BATCH_SIZE
    )
    return np.argmax(np.asarray(model.predict(dataset, verbose=0)), axis=1)


def _metrics(
    config: TrainConfig,
    *,
    float_eval: Evaluation,
    int8_eval: Evaluation,
    heldout_float: Evaluation | None,
    heldout_int8: Evaluation | None,
    float_size: int,
    int8_size: int,
    latency_ms: float,
    outcome: FitOutcome,
    model: keras.Model,
    wall_seconds: float,
) -> dict[str, Any]:
    """model.json's `metrics`."""
    val_loss = outcome.history.get("val_loss", [])
    metrics: dict[str, Any] = {
        "float_accuracy": round(float_eval.accuracy, 6),
        "int8_accuracy": round(int8_eval.accuracy, 6),
        "drop_pp": round((float_eval.accuracy - int8_eval.accuracy) * 100, 4),
        "test_count": int8_eval.count,
        "per_class": int8_eval.per_class,
        "float_per_class": float_eval.per_class,
        "float_size_bytes": float_size,
        "int8_size_bytes": int8_size,
        "size_ratio": round(int8_size / float_size, 4) if float_size else None,
        "int8_latency_ms_p50": round(latency_ms, 3),
        "epochs_trained": len(outcome.history.get("loss", [])),
        "best_epoch": int(np.argmin(val_loss)) + 1 if val_loss else None,
        "best_val_loss": round(min(val_loss), 6) if val_loss else None,
        "train_seconds": round(outcome.train_seconds, 1),
        "wall_seconds": round(wall_seconds, 1),
        **trainable_summary(model),
        "hyperparameters": _hyperparameters(config),
    }
    if heldout_int8 is not None and heldout_float is not None:
        metrics["heldout_accuracy"] = round(heldout_int8.accuracy, 6)
        metrics["heldout_float_accuracy"] = round(heldout_float.accuracy, 6)
        metrics["heldout_count"] = heldout_int8.count
        metrics["heldout_per_class"] = heldout_int8.per_class
        if config.dataset == "emoji":
            metrics["heldout_glyph_accuracy"] = metrics["heldout_accuracy"]
    return metrics


def _hyperparameters(config: TrainConfig) -> dict[str, Any]:
    keys = (
        "arch", "weights", "alpha", "epochs", "fine_tune_epochs", "fine_tune_layers",
        "image_size", "batch_size", "learning_rate", "seed", "patience",
        "validation_fraction", "test_fraction", "representative_count",
    )  # fmt: skip
    values = {key: getattr(config, key) for key in keys}
    values["augmentation"] = asdict(config.augmentation) if config.augmentation else None
    if config.arch == "cnn":
        for key in ("weights", "alpha", "fine_tune_epochs", "fine_tune_layers"):
            values.pop(key)
    return values


def _run_dir(config: TrainConfig, data: PreparedData) -> Path:
    """Resume state for this exact job: same settings and same data, whatever the version."""
    key = json.dumps(
        {"hyperparameters": _hyperparameters(config), "data": data.info["fingerprint"]},
        sort_keys=True,
        default=str,
    )
    return config.checkpoints / f"run-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _has_entries(directory: Path) -> bool:
    return directory.is_dir() and any(not p.name.startswith(".") for p in directory.iterdir())


def _without_counts(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "counts"}


def _log_summary(metadata: ModelMetadata, gate: GateResult) -> None:
    m = metadata.metrics
    log.info(
        "model %s: float accuracy %.2f%%, int8 accuracy %.2f%% (drop %.2f pp), "
        "int8 %d bytes = %.1f%% of float, %.2f ms per image",
        metadata.version,
        m["float_accuracy"] * 100,
        m["int8_accuracy"] * 100,
        m["drop_pp"],
        m["int8_size_bytes"],
        (m["size_ratio"] or 0) * 100,
        m["int8_latency_ms_p50"],
    )
    if "heldout_accuracy" in m:
        log.info("held-out set: int8 accuracy %.2f%%", m["heldout_accuracy"] * 100)
    if gate.passed:
        log.info("quality gate passed")
    else:
        log.error("quality gate FAILED: %s", "; ".join(gate.reasons))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:300] or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
