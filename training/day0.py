"""The day-0 model: ImageNet's own classifier plus a mapping onto the user's labels.

It needs no labelled data. The int8 network outputs ImageNet's 1,000 logits; model.json's
`output` names each label's ImageNet classes, and the function sums their softmax mass in
float after dequantizing (`classifier.model`), so the many small probabilities of, say,
118 dog breeds are not rounded away one by one. It is evaluated and gated like a trained
model, and promoted like one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from classifier.artifact import (
    OUTPUT_GROUPED_LOGITS,
    HierarchyRef,
    ModelMetadata,
    OutputSpec,
    UnknownRule,
)
from classifier.artifact_files import read_metadata
from classifier.contracts import ANNOTATED_PHOTOS, REAL_PHOTOS
from classifier.imaging import InputSpec
from classifier.model import Decider
from classifier.verify import write_checked_artifact
from training import decisions, evalsets, export
from training.backbones import efficientnet_lite as lite
from training.data import DataError
from training.evaluate import Int8Outputs
from training.gate import (
    GateResult,
    artifact_gate,
    log_gate,
    primary_gate,
    primary_metrics,
)
from training.imagenet import (
    ANIMALS10_MAPPING,
    describe_mapping,
    resolve_mapping,
)
from training.labels import builtin_hierarchy
from training.labels.domain import domain_of
from training.probe import probe_images
from training.train_config import DEFAULT_UNKNOWN_BUDGET

log = logging.getLogger(__name__)

ARCHITECTURE = f"{lite.ARCH}-imagenet-day0"
PRIMARY_SET = REAL_PHOTOS
MIN_ACCURACY = 0.80
MAX_DROP_PP = 1.0
REPRESENTATIVE_COUNT = 200
CALIBRATION_SET = "few-shot photos"


class Day0Error(ValueError):
    """The day-0 model cannot be built: no data to calibrate or evaluate it on."""


@dataclass(frozen=True)
class Day0Result:
    """The artifact directory, its metadata and the gate's verdict."""

    model_dir: Path
    metadata: ModelMetadata
    gate: GateResult


def build_day0(
    model_dir: Path,
    *,
    version: str,
    mapping: Mapping[str, tuple[int, ...]] | None = None,
    eval_dir: Path | None = None,
    calibration_images: np.ndarray | None = None,
    min_accuracy: float = MIN_ACCURACY,
    max_drop_pp: float = MAX_DROP_PP,
    unknown_budget: float = DEFAULT_UNKNOWN_BUDGET,
) -> Day0Result:
    """Convert, quantize, evaluate and gate the day-0 model into `model_dir`."""
    started = time.monotonic()
    groups = dict(mapping) if mapping is not None else resolve_mapping(ANIMALS10_MAPPING)
    hierarchy = builtin_hierarchy()
    labels = tuple(sorted(groups))
    spec = InputSpec(height=lite.IMAGE_SIZE, width=lite.IMAGE_SIZE)
    output = OutputSpec(
        OUTPUT_GROUPED_LOGITS,
        tuple(groups[label] for label in labels),
        domain=domain_of(groups),
    )
    sets = evalsets.standard_sets(labels, spec) or _annotated(groups, labels, spec)
    if eval_dir is not None:
        sets.append(evalsets.load_set("user", eval_dir, labels, spec))
    if not sets:
        raise Day0Error(
            f"no evaluation set for these labels: no packaged photo shows {', '.join(labels)};"
            " pass a folder of labelled photos (--eval-dir)"
        )
    network = lite.imagenet_classifier(lite.IMAGE_SIZE)
    photos_train = _photos_train(labels, spec)
    if calibration_images is None:
        calibration_images = _calibration_images(photos_train, sets)
    int8_tflite = export.to_int8_tflite(network, calibration_images)
    float_tflite = export.to_float_tflite(network)
    provisional = ModelMetadata(version=version, input=spec, labels=labels, output=output)
    int8_outputs = Int8Outputs(int8_tflite, provisional)
    if photos_train is not None:
        # ImageNet's own classifier is fitted on no photo of ours: the few-shot photos are
        # held-out data for it.
        provisional = decisions.fit_decisions(
            provisional,
            int8_outputs,
            fit_on=(CALIBRATION_SET, photos_train),
            in_class={CALIBRATION_SET: photos_train},
            outside=decisions.outside_images(None, labels, spec, output),
            budget=unknown_budget,
            checks={s.name: decisions.Labelled.of(s.images) for s in sets if s.count},
            # ImageNet's own evidence decides; its top probability over 1,000 classes says
            # little about our ten.
            use_confidence=False,
        )
    decider = Decider(provisional, lite.IMAGENET_CLASSES)

    def float_predict(images: np.ndarray) -> np.ndarray:
        logits = np.asarray(network.predict(images.astype(np.float32), batch_size=32, verbose=0))
        return decider.label_ids(logits)

    evaluations: dict[str, Any] = {}
    forced = replace(provisional, unknown=UnknownRule())
    for evaluation_set in sets:
        evaluations[evaluation_set.name], _ = evalsets.evaluate(
            evaluation_set,
            labels,
            lambda images: int8_outputs.label_ids(provisional, images),
            float_predict,
            lambda images: int8_outputs.label_ids(forced, images),
        )
    primary_name = PRIMARY_SET if PRIMARY_SET in evaluations else sets[-1].name
    gate = primary_gate(
        evaluations, primary_name, min_int8_accuracy=min_accuracy, max_drop_pp=max_drop_pp
    )
    metadata = ModelMetadata(
        version=version,
        input=spec,
        labels=labels,
        architecture=ARCHITECTURE,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        output=output,
        calibration=provisional.calibration,
        unknown=provisional.unknown,
        metrics={
            **primary_metrics(evaluations, primary_name),
            "float_size_bytes": len(float_tflite),
            "int8_size_bytes": len(int8_tflite),
            "size_ratio": round(len(int8_tflite) / len(float_tflite), 4),
            "int8_latency_ms_p50": round(
                float(np.median([int8_outputs.latency_ms(s.images.images) for s in sets])), 3
            ),
            "params": int(network.count_params()),
            "wall_seconds": round(time.monotonic() - started, 1),
        },
        dataset={
            "name": "imagenet-1k",
            "weights": f"{lite.WEIGHTS_PACKAGE}=={lite.weights_version()}",
            "mapping": describe_mapping(groups, labels),
        },
        gate=gate.to_dict(),
        hierarchy=HierarchyRef.of(hierarchy),
    )
    # The probe: the gate's own set (real photos when there are), else calibration images.
    primary_images = next(s.images for s in sets if s.name == primary_name)
    probe = probe_images(primary_images, calibration_images)
    write_checked_artifact(model_dir, int8_tflite, metadata, hierarchy, probe)
    gate = artifact_gate(model_dir, gate)
    log.info(
        "day-0 model %s: %s",
        version,
        ", ".join(f"{name} {entry['accuracy']:.1%}" for name, entry in evaluations.items()),
    )
    log_gate(gate)
    return Day0Result(model_dir=model_dir, metadata=read_metadata(model_dir), gate=gate)


def _annotated(
    groups: Mapping[str, tuple[int, ...]], labels: tuple[str, ...], spec: InputSpec
) -> list[evalsets.EvaluationSet]:
    """The packaged photos that show these labels, as one set; [] when none does, or when
    the photo sets cannot be assembled here (logged, never silently)."""
    try:
        found = evalsets.annotated_set(groups, labels, spec)
    except DataError:  # no photo shows them: the caller says so, if no other set is given
        return []
    except (ImportError, OSError, RuntimeError, ValueError) as error:
        log.warning("evaluation set %s is not available: %s", ANNOTATED_PHOTOS, error)
        return []
    counts = np.bincount(found.images.label_ids, minlength=len(labels))
    log.info(
        "%s: %s",
        ANNOTATED_PHOTOS,
        ", ".join(f"{label} {count}" for label, count in zip(labels, counts, strict=True)),
    )
    return [found]


def _photos_train(labels: tuple[str, ...], spec: InputSpec) -> decisions.Labelled | None:
    """The real photos' training split in these labels, if the labels have it."""
    from training.data import list_class_files, load_images
    from training.datasets import photos
    from training.datasets.animals10 import LABELS as ANIMALS10

    if not set(ANIMALS10) <= set(labels):
        return None
    try:
        return decisions.Labelled.of(
            load_images(list_class_files(photos.train_dir(), labels), spec)
        )
    except Exception as error:  # noqa: BLE001 - no photos: the day-0 model is not calibrated
        log.warning("no real training photos to calibrate with: %s", error)
        return None


def _calibration_images(
    photos_train: decisions.Labelled | None, sets: list[evalsets.EvaluationSet]
) -> np.ndarray:
    """Calibration for int8: the real photos' training split, then the evaluation images."""
    pools = [photos_train.images] if photos_train is not None else []
    pools += [s.images.images for s in sets]
    images = np.concatenate(pools)
    rng = np.random.default_rng(0)
    return images[rng.permutation(len(images))[:REPRESENTATIVE_COUNT]]
