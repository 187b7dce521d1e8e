"""The int8 model's decisions and confidences, as training's per-label evaluation reads them:
the same label ids the gate scores, and the top label's calibrated probability, kept even
for an image the unknown rule turns away."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from classifier.artifact import UnknownRule
from classifier.artifact_files import read_metadata
from classifier.contracts import ARTIFACT_MODEL_FILE
from classifier.model import Decider
from tests.fixtures.tiny_model import colour_images
from training.evaluate import Int8Outputs
from training.per_label import UNKNOWN, evaluate


def test_decided_gives_the_label_ids_and_the_top_confidence(tiny_model_dir: Path) -> None:
    metadata = read_metadata(tiny_model_dir)
    outputs = Int8Outputs((tiny_model_dir / ARTIFACT_MODEL_FILE).read_bytes(), metadata)
    images, truth = colour_images(12, seed=5)
    pixels = images.astype(np.uint8)

    predicted, confidence = outputs.decided(metadata, pixels)

    assert predicted.tolist() == outputs.label_ids(metadata, pixels).tolist()
    raw = outputs(pixels)
    expected = np.max(Decider(metadata, raw.shape[1]).probabilities(raw), axis=-1)
    assert np.allclose(confidence, expected) and np.all((confidence > 0) & (confidence <= 1))
    # A rule that turns every image away: all unknown, each with its top confidence still
    # (just above the highest; a softmax of logits comes within 1e-3 of 1, but never to 1)
    above = min(float(confidence.max()) + 1e-3, 1.0)
    strict = replace(metadata, unknown=UnknownRule(min_confidence=above))
    strict_ids, strict_confidence = outputs.decided(strict, pixels)
    assert strict_ids.tolist() == [UNKNOWN] * 12
    assert np.array_equal(strict_confidence, confidence)
    # And the per-label evaluation takes them as they are: every image in the unknown column
    entry = evaluate(truth, strict_ids, strict_confidence, metadata.labels, ["x"] * 12).to_dict()
    assert entry["unknown_count"] == 12 and entry["accuracy"] == 0.0
    assert [row[-1] for row in entry["confusion"]["rows"].values()] == np.bincount(truth).tolist()
