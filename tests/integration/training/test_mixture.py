"""The mixture network: ImageNet's logits and the trained head's, from one shared base."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from classifier.artifact import ModelMetadata
from classifier.imaging import InputSpec
from classifier.model import output_decoder, softmax
from training import mixture
from training.backbones import efficientnet_lite as lite
from training.datasets.animals10 import LABELS
from training.imagenet import MappingError

pytestmark = pytest.mark.slow


def test_the_mixture_network_outputs_imagenets_logits_then_the_heads() -> None:
    # Given a Lite0 classifier with a head over three labels (weights as training leaves them)
    tuned = lite.make_classifier((lite.IMAGE_SIZE, lite.IMAGE_SIZE, 3), 3, weights="imagenet")
    rng = np.random.default_rng(0)
    probs = tuned.get_layer("probs")
    probs.set_weights([w + rng.normal(0, 0.05, w.shape) for w in probs.get_weights()])
    images = rng.integers(0, 256, (2, lite.IMAGE_SIZE, lite.IMAGE_SIZE, 3)).astype(np.float32)
    # When the mixture network is built from it
    network = mixture.mixture_network(tuned, lite.IMAGE_SIZE, cut_block=15)
    raw = np.asarray(network.predict(images, verbose=0))
    # Then it outputs ImageNet's 1,000 logits as the pretrained classifier computes them...
    reference = np.asarray(lite.imagenet_classifier().predict(images, verbose=0))
    assert raw.shape == (2, 1003)
    np.testing.assert_allclose(raw[:, :1000], reference, atol=1e-3)
    # ...and then the head's logits, whose softmax is the tuned classifier's output
    np.testing.assert_allclose(softmax(raw[:, 1000:]), tuned.predict(images, verbose=0), atol=1e-4)


def test_auto_maps_the_animals10_labels_and_nothing_else() -> None:
    assert mixture.resolve_setting("auto", LABELS) is not None
    assert mixture.resolve_setting("auto", ("red", "green")) is None
    assert mixture.resolve_setting("none", LABELS) is None


def test_a_mapping_file_must_name_exactly_the_labels(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"cat": ["281-285"], "dog": ["151-268"]}))
    assert mixture.resolve_setting(str(path), ("cat", "dog")) is not None
    with pytest.raises(MappingError, match="missing bird; not in the data dog"):
        mixture.resolve_setting(str(path), ("cat", "bird"))


def test_the_output_spec_decodes_like_the_function() -> None:
    mapping = mixture.resolve_setting("auto", LABELS)
    assert mapping is not None
    spec = mixture.output_spec(mapping, sorted(LABELS), power=2.0)
    metadata = ModelMetadata(
        version="v", input=InputSpec(height=224, width=224), labels=tuple(sorted(LABELS)),
        output=spec,
    )  # fmt: skip
    decode = output_decoder(metadata, 1000 + len(LABELS))
    raw = np.zeros(1000 + len(LABELS))
    raw[mapping["dog"][0]] = 30.0  # ImageNet is sure it is a dog breed
    raw[1000] = 10.0  # the head says the first label
    assert sorted(LABELS)[int(np.argmax(decode(raw)))] == "dog"
