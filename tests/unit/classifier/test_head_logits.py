"""model.json `output` kind `logits`: a trained head's logits, whose softmax the function takes
in float64 (XNNPACK has no int8 SOFTMAX, so training exports a softmax head without it); and
the artifacts exported before, whose model outputs the softmax itself (`probabilities`)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from classifier.artifact import (
    OUTPUT_LOGITS,
    OUTPUT_PROBABILITIES,
    ArtifactError,
    Calibration,
    ModelMetadata,
    OutputSpec,
    UnknownRule,
)
from classifier.imaging import InputSpec
from classifier.model import Decider, LoadedModel, ModelUnavailableError, softmax

CACHE = Path(__file__).resolve().parents[3] / ".imgclf" / "test-cache"
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


def metadata(
    kind: str, temperature: float = 1.0, min_confidence: float | None = None
) -> ModelMetadata:
    return ModelMetadata(
        version="v",
        input=InputSpec(height=8, width=8),
        labels=("cat", "dog", "fox", "owl"),
        output=OutputSpec(kind),
        calibration=Calibration("temperature", temperature),
        unknown=UnknownRule(min_confidence=min_confidence),
    )


@pytest.fixture(scope="module")
def softmax_model_dir(tiny_model_dir: Path) -> Path:
    """The tiny model exported with its softmax: an artifact as made before `logits`."""
    import tiny_model  # on sys.path through the tiny_model_dir fixture

    return Path(tiny_model.cached(CACHE, softmax_output=True))


def test_a_heads_logits_decide_as_the_same_head_exported_with_its_softmax() -> None:
    # Given a head's logits, and the probabilities the same head's softmax outputs
    logits = np.array([[2.5, -1.0, 0.3, 4.1], [0.0, 0.1, -0.2, 0.05], [9.0, -9.0, -9.0, -9.0]])
    for temperature in (1.0, 0.6, 2.3):
        from_logits = Decider(metadata(OUTPUT_LOGITS, temperature, 0.5), 4)
        from_softmax = Decider(metadata(OUTPUT_PROBABILITIES, temperature, 0.5), 4)
        # When each is decided with the same calibration and rule
        calibrated = from_logits.probabilities(logits)
        # Then the calibrated probabilities are the same (log p / T is logits / T less a
        # constant): softmax(logits / T), and so are the decisions and the top k
        np.testing.assert_allclose(calibrated, softmax(logits / temperature), atol=1e-12)
        np.testing.assert_allclose(calibrated, from_softmax.probabilities(softmax(logits)))
        assert (
            from_logits.label_ids(logits).tolist()
            == from_softmax.label_ids(softmax(logits)).tolist()
        )
        for row in logits:
            ours = from_logits.classification(row)
            theirs = from_softmax.classification(softmax(row))
            assert ours.best.label == theirs.best.label
            assert ours.best.confidence == pytest.approx(theirs.best.confidence)
            assert [p.label for p in ours.top_k] == [p.label for p in theirs.top_k]
            assert ours.other == theirs.other == 0.0
    # And the decoded (uncalibrated) probabilities are the logits' softmax, summing to 1
    decoded = Decider(metadata(OUTPUT_LOGITS), 4).decoded(logits)
    np.testing.assert_allclose(decoded, softmax(logits))
    np.testing.assert_allclose(decoded.sum(axis=-1), 1.0)


def test_a_probabilities_model_is_decided_as_before() -> None:
    # Given an older artifact's probabilities (an int8 softmax, 1/256 steps)
    probabilities = np.array([0.75, 0.125, 0.0, 0.12109375])
    decider = Decider(metadata(OUTPUT_PROBABILITIES, 2.0), 4)
    # Then they are used as shares (what they miss of 1 is the int8 steps, no "none of
    # these"), calibrated p ** (1/T) renormalised, zeros clipped
    shares = probabilities / probabilities.sum()
    clipped = np.clip(shares, 1e-12, 1.0) ** 0.5
    np.testing.assert_allclose(decider.decoded(probabilities), shares)
    np.testing.assert_allclose(decider.probabilities(probabilities), clipped / clipped.sum())


def test_the_logits_kind_round_trips_and_older_model_json_still_means_probabilities() -> None:
    written = metadata(OUTPUT_LOGITS)
    data = json.loads(json.dumps(written.to_dict()))
    assert data["output"] == {"kind": "logits"}
    assert ModelMetadata.from_dict(data) == written
    # An older model.json: `output` absent, or the probabilities kind
    del data["output"]
    assert ModelMetadata.from_dict(data).output.kind == OUTPUT_PROBABILITIES
    data["output"] = {"kind": "probabilities"}
    assert ModelMetadata.from_dict(data).output == OutputSpec()


@pytest.mark.parametrize(
    "extra",
    [{"groups": [[0], [1]]}, {"sources": 1000}, {"domain": [[0, 3]]}, {"head_outside": True}],
)
def test_logits_take_no_groups_sources_domain_or_outside(extra: dict[str, object]) -> None:
    data = metadata(OUTPUT_LOGITS).to_dict()
    data["output"] = {"kind": "logits", **extra}
    with pytest.raises(ArtifactError, match="model.json is malformed"):
        ModelMetadata.from_dict(data)


def test_a_logits_model_needs_one_output_a_label() -> None:
    with pytest.raises(ModelUnavailableError, match="5 outputs but 4 labels"):
        Decider(metadata(OUTPUT_LOGITS), 5)


def test_the_tiny_model_outputs_its_heads_logits(tiny_model_dir: Path) -> None:
    # Given the tiny model, exported as training exports a softmax head
    model = LoadedModel.from_directory(tiny_model_dir)
    assert model.metadata.output.kind == OUTPUT_LOGITS
    for label, colour in COLOURS.items():
        raw = model.raw(np.full((32, 32, 3), colour, np.uint8))
        # Then its outputs are logits, not probabilities, and their softmax names the colour
        assert raw.min() < 0
        top = model.predict(np.full((32, 32, 3), colour, np.uint8), top_k=3)
        assert top[0].label == label
        assert sum(p.confidence for p in top) == pytest.approx(1.0, abs=1e-9)


def test_an_artifact_exported_with_its_softmax_still_loads_and_labels_alike(
    tiny_model_dir: Path, softmax_model_dir: Path
) -> None:
    # Given the same network exported with its softmax (kind probabilities) and without
    legacy = LoadedModel.from_directory(softmax_model_dir)
    current = LoadedModel.from_directory(tiny_model_dir)
    assert legacy.metadata.output.kind == OUTPUT_PROBABILITIES
    assert legacy.delegation().outside == ("SOFTMAX",)  # LiteRT's own kernel runs it
    assert current.delegation().outside == ()
    # When each labels the same images
    import tiny_model

    images, truth = tiny_model.colour_images(60, seed=2)
    pixels = np.rint(images).astype(np.uint8)
    old = np.stack([legacy.raw(image) for image in pixels])
    new = np.stack([current.raw(image) for image in pixels])
    # Then the old one's outputs are used as shares (they miss 1 by the int8 softmax's steps,
    # which are no "none of these"), and both give the same labels with probabilities within
    # those steps
    np.testing.assert_allclose(old.sum(axis=-1), 1.0, atol=0.02)
    shares = old.astype(np.float64) / old.astype(np.float64).sum(-1, keepdims=True)
    np.testing.assert_allclose(legacy.decider.probabilities(old), shares, rtol=1e-12)
    assert legacy.decider.label_ids(old).tolist() == current.decider.label_ids(new).tolist()
    assert np.mean(current.decider.label_ids(new) == truth) > 0.9
    np.testing.assert_allclose(
        current.decider.probabilities(new), legacy.decider.probabilities(old), atol=0.02
    )
    # And a calibrated legacy model still scales its probabilities' logarithms
    calibrated = Decider(replace(legacy.metadata, calibration=Calibration("temperature", 2.0)), 3)
    sharp = np.clip(shares, 1e-12, 1.0) ** 0.5
    np.testing.assert_allclose(calibrated.probabilities(old), sharp / sharp.sum(-1, keepdims=True))
