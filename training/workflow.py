"""One training run, start to finish: data, model, fit, export, evaluate, gate, artifact.

The gate's verdict is recorded in model.json, never raised: whether a model may go live is
decided by whoever reads the artifact (the state machine's gate, `imgclf model promote`).
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import numpy as np

from classifier.artifact import OUTPUT_MIXTURE, HierarchyRef, ModelMetadata, OutputSpec, UnknownRule
from classifier.artifact_files import pack_artifact, read_metadata
from classifier.imaging import InputSpec
from classifier.model import Decider
from classifier.verify import write_checked_artifact
from training import decisions, evalsets, export, mixture, pipeline, transfer
from training.backbones import efficientnet_lite as lite
from training.data import class_weights, list_class_files, load_images
from training.evaluate import Evaluation, Int8Outputs, score
from training.evaluation_report import HELDOUT, TEST, write_report
from training.fitting import (
    EVAL_BATCH_SIZE,
    FitOutcome,
    ProgressCallback,
    build_model,
    distribution,
    fit,
    run_dir,
)
from training.gate import GateResult, artifact_gate, check_gate, log_gate
from training.imagenet import describe_mapping
from training.labels import builtin_hierarchy
from training.networks import trainable_summary
from training.outside import head_photos
from training.per_label import evaluate as evaluate_per_label
from training.per_label import short_names
from training.prepare import PreparedData, prepare_data
from training.probe import probe_images
from training.train_config import GENERATED_DATASETS, ResolvedConfig, TrainConfig

log = logging.getLogger("training")
EXTRA_VIEWS = 8  # augmented views per few-shot photo, on top of the photo itself
SMALL_FOLDER_IMAGES = 500  # a user's training split under this: its photos get views too
VALIDATION = "validation"
OUTSIDE_SEED = 50_000  # renderings of other animals: a seed no class rendering uses
CALIBRATION_SEED = 31_337  # fresh renderings to choose "unknown" with; never trained on
FRESH_RENDERINGS = "fresh renderings"


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


def run(given: TrainConfig, progress: ProgressCallback | None = None) -> TrainResult:
    """Train, evaluate, export and gate one model; progress(epoch, total, logs) per epoch."""
    started = time.monotonic()
    config = given.resolved()
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

    output = OutputSpec()
    if config.arch == lite.ARCH:
        # Resolved before training, so a bad mapping file fails in seconds, not after the fit.
        mapping = mixture.resolve_setting(config.imagenet_mapping, data.labels)
        outside = _outside_training(config, data, mapping) if mapping is not None else None
        model, outcome = _fit_on_cached_activations(config, data, progress, outside)
        if mapping is not None:
            model = mixture.mixture_network(model, config.image_size, transfer.DEFAULT_CUT_BLOCK)
            output = mixture.output_spec(
                mapping, data.labels, config.mixture_power, head_outside=outside is not None
            )
            data.info["imagenet_mapping"] = describe_mapping(mapping, data.labels)
    else:
        with distribution() as strategy:
            model = build_model(config, len(data.labels), config.weights)
            outcome = fit(model, config, data, progress, strategy.num_replicas_in_sync)
    # Outside the scope, in float32: mixed precision cannot be quantized.
    float_model = export.float32_copy(model, lambda: build_model(config, len(data.labels), "none"))
    # A softmax head is exported as its logits (XNNPACK has no int8 softmax); the float model
    # keeps its softmax, and its probabilities are what the int8 model's are compared with.
    float_output = output
    network, output = export.serving_network(float_model, float_output)
    float_tflite = export.to_float_tflite(network)
    representative = export.representative_sample(
        data.train.images, config.representative_count, config.seed
    )
    int8_tflite = export.to_int8_tflite(network, representative)
    standard = evalsets.standard_sets(data.labels, spec) if config.evaluate_standard_sets else []
    provisional = ModelMetadata(
        version=config.version, input=spec, labels=data.labels, output=output
    )
    int8_outputs = Int8Outputs(int8_tflite, provisional)
    unverifiable = _rule_unverifiable(config, data)
    provisional = decisions.fit_decisions(
        provisional,
        int8_outputs,
        fit_on=(VALIDATION, decisions.Labelled.of(data.validation)),
        in_class=_in_class_sets(config, data, spec),
        outside=decisions.outside_images(config.outside_dir, data.labels, spec, output),
        budget=config.unknown_budget,
        too_few=unverifiable,
        # Renderings cannot say how sure to be of photographs: never sharpen on them.
        sharpen=config.dataset not in GENERATED_DATASETS,
        checks={
            evalsets.TEST_SPLIT: decisions.Labelled.of(data.test),
            **{e.name: decisions.Labelled.of(e.images) for e in standard},
        },
    )
    # The float model's outputs, decided as the int8 model's are (calibration, "unknown").
    decider = Decider(replace(provisional, output=float_output), int(float_model.output.shape[-1]))
    float_eval = score(
        data.test.label_ids, _predict(float_model, data.test.images, decider), data.labels
    )
    # The Lambda's model code runs the int8 model: the gate measures what production does.
    int8_predicted = int8_outputs.label_ids(provisional, data.test.images)
    latency_ms = int8_outputs.latency_ms(data.test.images)
    int8_eval = score(data.test.label_ids, int8_predicted, data.labels)
    heldout_float = heldout_int8 = None
    if data.heldout is not None:
        heldout_float = score(
            data.heldout.label_ids, _predict(float_model, data.heldout.images, decider), data.labels
        )
        heldout_predicted = int8_outputs.label_ids(provisional, data.heldout.images)
        heldout_int8 = score(data.heldout.label_ids, heldout_predicted, data.labels)

    evaluations: dict[str, Any] = {}
    test_entry = {
        "fingerprint": f"{data.info['fingerprint']}#test-seed{config.seed}",
        "count": int8_eval.count,
        "accuracy": round(int8_eval.accuracy, 6),
        "float_accuracy": round(float_eval.accuracy, 6),
    }
    evaluations[evalsets.TEST_SPLIT] = test_entry
    forced = replace(provisional, unknown=UnknownRule())
    for evaluation_set in standard:
        evaluations[evaluation_set.name], _ = evalsets.evaluate(
            evaluation_set,
            data.labels,
            lambda images: int8_outputs.label_ids(provisional, images),
            lambda images: _predict(float_model, images, decider),
            lambda images: int8_outputs.label_ids(forced, images),
        )
    gate = check_gate(
        float_accuracy=float_eval.accuracy,
        int8_accuracy=int8_eval.accuracy,
        min_int8_accuracy=config.min_int8_accuracy,
        max_drop_pp=config.max_drop_pp,
        test_count=int8_eval.count,
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
    metrics["evaluations"] = evaluations
    # Per label, as Custom Labels reports it: the int8 model's decisions on the test split and
    # the held-out set, with the confidence the function reports (training/per_label.py).
    per_label = {
        split: evaluate_per_label(
            images.label_ids,
            *int8_outputs.decided(provisional, images.images),
            data.labels,
            short_names(images.files),
        )
        for split, images in ((TEST, data.test), (HELDOUT, data.heldout))
        if images is not None
    }
    metrics["per_label"] = {split: evaluation.to_dict() for split, evaluation in per_label.items()}
    metadata = ModelMetadata(
        version=config.version,
        input=spec,
        labels=data.labels,
        output=output,
        calibration=provisional.calibration,
        unknown=provisional.unknown,
        architecture=config.arch,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        metrics=metrics,
        dataset=data.info,
        gate=gate.to_dict(),
    )
    # A mixture outputs ImageNet's logits first: its artifact carries the label hierarchy.
    hierarchy = builtin_hierarchy() if output.kind == OUTPUT_MIXTURE else None
    if hierarchy is not None:
        metadata = replace(metadata, hierarchy=HierarchyRef.of(hierarchy))
    # The probe: test images (what the gate measured), else held-out or validation ones.
    probe = probe_images(data.test, data.heldout, data.validation)
    write_checked_artifact(config.model_dir, int8_tflite, metadata, hierarchy, probe)
    gate = artifact_gate(config.model_dir, gate)
    metadata = read_metadata(config.model_dir)
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
        per_label=per_label,
        images={TEST: data.test.images}
        | ({HELDOUT: data.heldout.images} if data.heldout is not None else {}),
    )
    artifact = None
    if config.artifact_path is not None:
        artifact = pack_artifact(config.model_dir, config.artifact_path)
    # A finished run leaves no resume state behind: the next run with the same settings
    # must train afresh, not pick up this one's weights.
    shutil.rmtree(run_dir(config, data.info["fingerprint"]), ignore_errors=True)
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


def _rule_unverifiable(config: ResolvedConfig, data: PreparedData) -> str:
    """Why a user's data set is too small to choose "unknown" with ("": it is not).

    The rule may take at most the budget's share of the labels' own held-out photos, and a
    validation split of a dozen photos cannot show that: 1% of it is none, so the thresholds
    land just past the few photos there are. Measured on new photos of six everyday labels
    (10 a label), such a rule called 12% of them "unknown"; the labels were right on 91%.
    Such a model gets the fixed rule instead (calibration.FEW_PHOTOS_RULE), which no photo
    chose: it forced every outside photo into a label before that rule existed."""
    count = len(data.validation.label_ids)
    budget = config.unknown_budget
    if config.dataset in GENERATED_DATASETS or budget <= 0 or count * budget >= 1:
        return ""
    needed = math.ceil(1 / budget - 1e-9)
    return (
        f"{count} validation images cannot show that 'unknown' takes at most "
        f"{budget:.0%} of the labels' own photos (it needs {needed})"
    )


def _in_class_sets(
    config: ResolvedConfig, data: PreparedData, spec: InputSpec
) -> dict[str, decisions.Labelled]:
    """Held-out in-class images "unknown" may take only a budgeted share of: the validation
    split (early stopping has seen it) and, for the rendered data set, fresh renderings no
    part of training has seen. The few-shot photos are training data for the head."""
    sets = {VALIDATION: decisions.Labelled.of(data.validation)}
    if config.dataset == "emoji":
        from training.datasets import emoji

        count = max(1, len(data.validation.label_ids) // len(data.labels))
        directory = evalsets.generated_once(
            lite.cache_root() / "calibration-renderings" / f"s{CALIBRATION_SEED}-n{count}",
            lambda d: emoji.generate(d, images_per_class=count, seed=CALIBRATION_SEED),
        )
        loaded = load_images(list_class_files(directory, data.labels), spec)
        sets[FRESH_RENDERINGS] = decisions.Labelled.of(loaded)
    return sets


def _outside_training(
    config: ResolvedConfig, data: PreparedData, mapping: Mapping[str, tuple[int, ...]] | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Images outside the labels for the head's "none of these" output, (train, validation):
    a user's folder (`--outside-train-dir`), else real photographs that show none of the
    labels (training.outside: any domain), with renderings of other animals for the rendered
    Animals-10 set. None: the head has no such output."""
    spec = InputSpec(height=config.image_size, width=config.image_size)
    parts = []
    if config.outside_train_dir is not None:
        parts.append(evalsets.load_outside("outside-train", config.outside_train_dir, spec))
    else:
        if config.dataset == "emoji":
            from training.datasets import emoji

            count = config.images_per_class
            directory = evalsets.generated_once(
                lite.cache_root() / "outside-emoji" / f"s{config.seed}-n{count}",
                lambda d: emoji.generate_outside(d, count=count, seed=config.seed + OUTSIDE_SEED),
            )
            parts.append(evalsets.load_outside("outside-train", directory, spec))
        photos = head_photos(data.labels, mapping)
        if photos:
            parts.append(evalsets.load_outside_files("outside-photos-train", photos, spec))
    if not parts:
        return None
    images = np.concatenate([part.images.images for part in parts])
    # Shuffled, so the validation cut holds photographs as well as renderings.
    images = images[np.random.default_rng(config.seed).permutation(len(images))]
    cut = max(1, int(len(images) * config.validation_fraction))
    return images[cut:], images[:cut]


def _fit_on_cached_activations(
    config: ResolvedConfig,
    data: PreparedData,
    progress: ProgressCallback | None,
    outside: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[keras.Model, FitOutcome]:
    """EfficientNet-Lite0: the frozen base's activations are cached, the top is trained.
    With `outside` images, the head learns one more output, "none of the labels"."""
    train_images, train_ids = data.train.images, data.train.label_ids
    val_images, val_ids = data.validation.images, data.validation.label_ids
    classes = len(data.labels)
    if config.dataset == "folder" and len(train_ids) < SMALL_FOLDER_IMAGES:
        # A few photos a label: each also as augmented views (crops, flips), as few-shot
        # photos are. The head trains on cached activations, which see no batch augmentation.
        views = transfer.augmented_views(train_images, EXTRA_VIEWS, config.seed + 1)
        train_images = np.concatenate([train_images, views])
        train_ids = np.concatenate([train_ids, np.repeat(train_ids, EXTRA_VIEWS)])
        log.info(
            "small folder: %d photos, each also as %d views", len(views) // EXTRA_VIEWS, EXTRA_VIEWS
        )
    if config.extra_train_dir is not None:
        spec = InputSpec(height=config.image_size, width=config.image_size)
        extra = load_images(list_class_files(config.extra_train_dir, data.labels), spec)
        views = transfer.augmented_views(extra.images, EXTRA_VIEWS, config.seed)
        train_images = np.concatenate([train_images, extra.images, views])
        train_ids = np.concatenate(
            [train_ids, extra.label_ids, np.repeat(extra.label_ids, EXTRA_VIEWS)]
        )
        log.info("few-shot: %d extra photos as %d views", len(extra.label_ids), len(views))
    if outside is not None:
        none = classes  # the head's extra output
        train_images = np.concatenate([train_images, outside[0]])
        train_ids = np.concatenate([train_ids, np.full(len(outside[0]), none)])
        val_images = np.concatenate([val_images, outside[1]])
        val_ids = np.concatenate([val_ids, np.full(len(outside[1]), none)])
        classes += 1
        log.info("outside: %d + %d images for the head's none output", *map(len, outside))
    outcome = transfer.fit_transfer(
        transfer.TransferData(train_images, train_ids, val_images, val_ids),
        classes,
        image_size=config.image_size,
        weights=None if config.weights.lower() == "none" else "imagenet",
        epochs=config.epochs,
        fine_tune_epochs=config.fine_tune_epochs,
        learning_rate=config.learning_rate,
        batch_size=config.batch_size,
        seed=config.seed,
        class_weight=class_weights(train_ids, classes),
        cache_dir=lite.cache_root() / "activations",
        progress=progress,
    )
    return outcome.model, FitOutcome(
        history=outcome.history,
        fine_tune_from=outcome.fine_tune_from,
        train_seconds=outcome.train_seconds,
    )


def _predict(model: keras.Model, images: np.ndarray, decider: Decider) -> np.ndarray:
    """The float model's decided label per image (-1: unknown), decided as the function
    decides."""
    batches = pipeline.evaluation_dataset(
        images, np.zeros(len(images), np.int64), batch_size=EVAL_BATCH_SIZE
    )
    return decider.label_ids(np.asarray(model.predict(batches, verbose=0)))


def _metrics(
    config: ResolvedConfig,
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
        "hyperparameters": config.hyperparameters(),
    }
    if heldout_int8 is not None and heldout_float is not None:
        metrics["heldout_accuracy"] = round(heldout_int8.accuracy, 6)
        metrics["heldout_float_accuracy"] = round(heldout_float.accuracy, 6)
        metrics["heldout_count"] = heldout_int8.count
        metrics["heldout_per_class"] = heldout_int8.per_class
        if config.dataset == "emoji":
            metrics["heldout_glyph_accuracy"] = metrics["heldout_accuracy"]
    return metrics


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
    log_gate(gate)
