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
from classifier.contracts import ANNOTATED_OUTSIDE, ANNOTATED_PHOTOS, REAL_PHOTOS
from classifier.imaging import InputSpec
from classifier.model import Decider
from classifier.verify import write_checked_artifact
from training import decisions, evalsets, export
from training.backbones import efficientnet_lite as lite
from training.data import DataError
from training.datasets.animals10 import has_animals10
from training.datasets.annotated import CALIBRATION
from training.evalsets import ANNOTATED_CALIBRATION
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
USER_SET = "user"  # the --eval-dir folder
# The set the gate reads: the first of these the model is scored on.
PRIMARY_SETS = (REAL_PHOTOS, USER_SET, ANNOTATED_PHOTOS)
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
    kind_only: bool | None = None,
) -> Day0Result:
    """Convert, quantize, evaluate and gate the day-0 model into `model_dir`. `kind_only`
    chooses the evidence of something else (`_output`); None: the default for the labels."""
    started = time.monotonic()
    groups = dict(mapping) if mapping is not None else resolve_mapping(ANIMALS10_MAPPING)
    hierarchy = builtin_hierarchy()
    labels = tuple(sorted(groups))
    spec = InputSpec(height=lite.IMAGE_SIZE, width=lite.IMAGE_SIZE)
    output = _output(groups, labels, kind_only)
    sets = _evaluation_sets(groups, labels, spec, eval_dir)
    network = lite.imagenet_classifier(lite.IMAGE_SIZE)
    fit_name, photos_train = _fit_photos(groups, labels, spec)
    if calibration_images is None:
        calibration_images = _calibration_images(photos_train, sets)
    int8_tflite = export.to_int8_tflite(network, calibration_images)
    float_tflite = export.to_float_tflite(network)
    provisional = ModelMetadata(version=version, input=spec, labels=labels, output=output)
    int8_outputs = Int8Outputs(int8_tflite, provisional)
    if photos_train is not None:
        # ImageNet's own classifier is fitted on no photo of ours: these photos are
        # held-out data for it.
        provisional = decisions.fit_decisions(
            provisional,
            int8_outputs,
            fit_on=(fit_name, photos_train),
            in_class={fit_name: photos_train},
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
    primary_name = next(name for name in PRIMARY_SETS if name in evaluations)
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


def _output(
    groups: Mapping[str, tuple[int, ...]], labels: tuple[str, ...], kind_only: bool | None
) -> OutputSpec:
    """ImageNet's logits grouped into the labels. The evidence of something else is
    ImageNet's mass on the classes of the labels' own kind (`domain_of`) for Animals-10's
    labels, which are measured against photos of other animals; for other names, a bucket
    may hold anything, so it is the mass on every class no label owns (no domain). On the
    packaged photos, a day-0 model of cat, dog, bird, fish and insect called 90% of the
    photos that show none of them "unknown" so, against 18.5% with a domain
    (bench/day0_labels.py; docs/benchmarks.md)."""
    if kind_only is None:
        kind_only = has_animals10(labels)
    return OutputSpec(
        OUTPUT_GROUPED_LOGITS,
        tuple(groups[label] for label in labels),
        domain=domain_of(groups) if kind_only else (),
    )


def _evaluation_sets(
    groups: Mapping[str, tuple[int, ...]],
    labels: tuple[str, ...],
    spec: InputSpec,
    eval_dir: Path | None,
) -> list[evalsets.EvaluationSet]:
    """The standard sets when the labels are Animals-10's, else the packaged photos that
    show them and those that show none; then the user's folder, if given."""
    sets = evalsets.standard_sets(labels, spec) or _annotated(groups, labels, spec)
    if eval_dir is not None:
        sets.append(evalsets.load_set(USER_SET, eval_dir, labels, spec))
    if not any(s.name != ANNOTATED_OUTSIDE for s in sets):
        raise Day0Error(
            f"no evaluation set for these labels: no packaged photo shows {', '.join(labels)};"
            " pass a folder of labelled photos (--eval-dir)"
        )
    return sets


def _annotated(
    groups: Mapping[str, tuple[int, ...]], labels: tuple[str, ...], spec: InputSpec
) -> list[evalsets.EvaluationSet]:
    """The evaluation part of the packaged photos: those that show these labels, and those
    that show none (each left out when no photo is one, or when the photo sets cannot be
    assembled here: logged, never silently)."""
    found = []
    for build in (evalsets.annotated_set, evalsets.annotated_outside_set):
        try:
            found.append(build(groups, labels, spec))
        except DataError:  # no photo is one: the caller says so when nothing is left
            continue
        except (ImportError, OSError, RuntimeError, ValueError) as error:
            log.warning("the packaged photos are not available: %s", error)
            return []
    if found and found[0].name == ANNOTATED_PHOTOS:
        counts = np.bincount(found[0].images.label_ids, minlength=len(labels))
        shown = ", ".join(f"{a} {n}" for a, n in zip(labels, counts, strict=True))
        log.info("%s: %s", ANNOTATED_PHOTOS, shown)
    return found


def _fit_photos(
    groups: Mapping[str, tuple[int, ...]], labels: tuple[str, ...], spec: InputSpec
) -> tuple[str, decisions.Labelled | None]:
    """The in-class photos the temperature and the "unknown" rule are chosen on: the real
    photos' training split for Animals-10's labels, else the calibration part of the
    packaged photos that show these labels (None, not fitted, when there are none)."""
    if has_animals10(labels):
        return CALIBRATION_SET, _photos_train(labels, spec)
    try:
        found = evalsets.annotated_set(groups, labels, spec, part=CALIBRATION)
    except (DataError, ImportError, OSError, RuntimeError, ValueError) as error:
        log.warning("no photos to choose 'unknown' with: %s", error)
        return ANNOTATED_CALIBRATION, None
    return ANNOTATED_CALIBRATION, decisions.Labelled.of(found.images)


def _photos_train(labels: tuple[str, ...], spec: InputSpec) -> decisions.Labelled | None:
    """The real photos' training split in these labels, if the labels have it."""
    from training.data import list_class_files, load_images
    from training.datasets import photos

    if not has_animals10(labels):
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
