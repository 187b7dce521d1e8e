"""Export cuts a softmax head to its logits: the network XNNPACK runs whole, model.json kind
`logits`, and softmax(the cut) is the trained model."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from classifier.artifact import OUTPUT_LOGITS, OUTPUT_MIXTURE, OutputSpec
from classifier.model import softmax
from training import export
from training.networks import make_model


def pixels(count: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (count, size, size, 3)).astype(np.float32)


@pytest.mark.parametrize("arch", ["cnn", "mobilenetv2"])
def test_a_softmax_head_is_exported_as_its_logits(arch: str) -> None:
    # Given a trained classifier, which ends in its head's softmax
    keras.utils.set_random_seed(0)
    model = make_model((32, 32, 3), 4, arch=arch, weights=None)
    images = pixels(3, 32)
    # When it is made ready for export
    network, output = export.serving_network(model)
    # Then the network outputs the head's logits, whose softmax is the model's output
    assert output == OutputSpec(OUTPUT_LOGITS)
    assert network.output.shape[-1] == 4
    assert network.layers[-1].activation is keras.activations.linear
    logits = np.asarray(network.predict(images, verbose=0))
    np.testing.assert_allclose(softmax(logits), model.predict(images, verbose=0), atol=1e-6)
    assert not np.allclose(logits.sum(axis=-1), 1.0)
    # And training's model keeps its softmax, and shares everything below the head
    assert model.layers[-1].activation is keras.activations.softmax
    assert network.get_layer("pool") is model.get_layer("pool")


def test_a_network_that_outputs_logits_is_exported_as_it_is() -> None:
    # Given a network whose output is no softmax (ImageNet's logits, a mixture's concatenation)
    inputs = keras.Input((8, 8, 3))
    x = layers.GlobalAveragePooling2D()(inputs)
    network = keras.Model(inputs, layers.Concatenate()([layers.Dense(3)(x), layers.Dense(2)(x)]))
    mixture = OutputSpec(OUTPUT_MIXTURE, ((0,), (1,)), sources=3)
    # Then it is converted as it is, with its own output spec
    assert export.serving_network(network, mixture) == (network, mixture)
    assert export.head_logits(network) is None
    # And a softmax that is not a Dense's own activation is not cut either
    softmaxed = keras.Model(inputs, layers.Softmax()(layers.Dense(3)(x)))
    assert export.head_logits(softmaxed) is None


def test_a_softmax_head_cannot_be_exported_as_another_kind() -> None:
    model = make_model((16, 16, 3), 2)
    with pytest.raises(ValueError, match="not imagenet_mixture"):
        export.serving_network(model, OutputSpec(OUTPUT_MIXTURE, ((0,), (1,)), sources=2))
