"""The day-0 model end to end: ImageNet's classifier, the Animals-10 mapping, int8, the gate,
and the function's own model code labelling real photographs with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.contracts import EMOJI_RENDERINGS, OUTSIDE_PHOTOS, REAL_PHOTOS
from classifier.imaging import ImageLimits, InputSpec, prepare_image
from classifier.model import LoadedModel
from classifier.verify import PROBE_IMAGES, check_artifact
from training.backbones import efficientnet_lite as lite
from training.data import list_class_files, load_images
from training.datasets import photos
from training.day0 import build_day0

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
