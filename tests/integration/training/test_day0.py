"""The day-0 model end to end: ImageNet's classifier, the Animals-10 mapping, int8, the gate,
and the function's own model code labelling real photographs with it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from classifier.contracts import (
    ANNOTATED_OUTSIDE,
    ANNOTATED_PHOTOS,
    EMOJI_RENDERINGS,
    OUTSIDE_PHOTOS,
    REAL_PHOTOS,
)
from classifier.imaging import ImageLimits, InputSpec, prepare_image
from classifier.model import LoadedModel
from classifier.verify import PROBE_IMAGES, check_artifact
from training.backbones import efficientnet_lite as lite
from training.data import list_class_files, load_images
from training.datasets import photos
from training.datasets.annotated import annotated_photos
from training.day0 import build_day0
from training.evalsets import ANNOTATED_CALIBRATION, annotated_set
from training.labels.mapper import map_labels

pytestmark = pytest.mark.slow


def test_the_day0_model_labels_real_photographs_through_the_functions_code(
    tmp_path: Path,
) -> None:
    # Given the real photos' training split as int8 calibration (a small one, to be quick)
    train = photos.train_dir()
    index = list_class_files(train)
    spec = InputSpec(height=lite.IMAGE_SIZE, width=lite.IMAGE_SIZE)
    calibration = load_images(index, spec).images[:16]
    # When the day-0 model is built, with no training
    result = build_day0(tmp_path / "model", version="day0-test", calibration_images=calibration)
    # Then it is evaluated on the shared sets and passes its gate on the real photos
    evaluations = result.metadata.metrics["evaluations"]
    assert REAL_PHOTOS in evaluations and EMOJI_RENDERINGS in evaluations
    assert evaluations[REAL_PHOTOS]["accuracy"] >= 0.8
    # And it says "unknown" for most photos of other animals, from ImageNet's own evidence,
    # with a threshold and a temperature chosen on the photos it never saw
    outside = evaluations[OUTSIDE_PHOTOS]
    assert outside["forced_rate_without_unknown"] == 1.0 and outside["forced_rate"] <= 0.3
    rule, fitted = result.metadata.unknown, result.metadata.calibration
    assert rule.max_other is not None and rule.min_confidence is None
    assert fitted.details["ece_after"] < fitted.details["ece_before"]
    assert result.gate.passed, result.gate.reasons
    assert result.metadata.output.kind == "grouped_logits"
    assert result.metadata.output.domain  # the evidence: other animals, not a barn behind a cow
    # And its artifact carries every file's digest and a probe, and runs as promotion checks it
    assert set(result.metadata.files) == {
        "model.tflite", "labels.json", "hierarchy.json", "probe.npz"
    }  # fmt: skip
    assert result.metadata.probe is not None
    assert len(result.metadata.probe.labels) == PROBE_IMAGES
    assert check_artifact(result.model_dir).version == "day0-test"
    # And the function's LoadedModel, given the artifact, labels held-out photos of cats as cat
    model = LoadedModel.from_directory(result.model_dir)
    cats = sorted((photos.heldout_dir() / "cat").iterdir())
    labels = [
        model.predict(prepare_image(path.read_bytes(), model.spec, ImageLimits()).array)[0]
        for path in cats
    ]
    assert sum(p.label == "cat" for p in labels) >= len(cats) - 1
    assert all(0.0 < p.confidence <= 1.0 for p in labels)
    # The ten labels' masses are ImageNet's probabilities: together at most 1
    every_label = model.predict(
        prepare_image(cats[0].read_bytes(), model.spec, ImageLimits()).array, top_k=10
    )
    assert len(every_label) == 10 and sum(p.confidence for p in every_label) <= 1.0 + 1e-6


def test_a_day0_model_for_other_names_is_scored_on_the_packaged_photos_that_show_them(
    tmp_path: Path,
) -> None:
    # Given label names outside Animals-10, and no folder of photos of them
    names = ("car", "boat", "bird", "flower")
    mapping = {label: m.indices for label, m in map_labels(names).items()}
    # When the day-0 model is built, as `imgclf model day0 --labels car,boat,bird,flower` does
    result = build_day0(tmp_path / "model", version="day0-names", mapping=mapping)
    # Then the packaged photos whose words show one of the names are its evaluation set,
    # with those that show none, and its gate reads the first
    metrics = result.metadata.metrics
    assert set(metrics["evaluations"]) == {ANNOTATED_PHOTOS, ANNOTATED_OUTSIDE}
    assert metrics["primary_set"] == ANNOTATED_PHOTOS
    entry = metrics["evaluations"][ANNOTATED_PHOTOS]
    assert {label: row["support"] >= 1 for label, row in entry["per_class"].items()} == {
        name: True for name in names
    }
    assert entry["accuracy"] >= 0.75 and result.gate.passed, result.gate.reasons
    # And it says "unknown" for photos of none of the names (a cat, a teapot), by a rule
    # chosen on the other part of the packaged photos, from ImageNet's mass on every class
    # none of the names owns (a bucket holds anything, not only the names' kinds)
    assert result.metadata.unknown.max_other is not None
    assert result.metadata.output.domain == ()
    outside = metrics["evaluations"][ANNOTATED_OUTSIDE]
    assert outside["forced_rate_without_unknown"] == 1.0 and outside["forced_rate"] <= 0.5
    assert result.metadata.calibration.details["fitted_on"] == ANNOTATED_CALIBRATION


def test_the_packaged_photos_of_some_names_are_each_photo_once_with_its_label() -> None:
    names = ("car", "bird", "flower")
    groups = {label: m.indices for label, m in map_labels(names).items()}
    spec = InputSpec(height=lite.IMAGE_SIZE, width=lite.IMAGE_SIZE)
    found = annotated_set(groups, names, spec)
    files = found.images.files
    # One source photo that two sets ship is scored once
    assert len({hashlib.sha256(f.read_bytes()).digest() for f in files}) == len(files)
    # Each photo is labelled by what its annotated words say it shows
    words = annotated_photos()
    labelled = dict(zip(files, (names[i] for i in found.images.label_ids), strict=True))
    race_cars = [f for f in files if "race car" in words[f]]
    assert race_cars and all(labelled[f] == "car" for f in race_cars)
    hens = [f for f in files if "hen" in words[f] or "chicken" in words[f]]
    assert hens and all(labelled[f] == "bird" for f in hens)
    # A tree, which no ImageNet class is, and a photo of both a bird and a flower are left out
    assert not [f for f in files if words[f] == frozenset({"tree"})]
    assert all(not ({"bird", "flower"} <= words[f]) for f in files)
