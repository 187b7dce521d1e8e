"""The networks and the augmentation: shapes, normalisation inside, freezing, training only."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from training.networks import base_model, make_model, unfreeze_top
from training.pipeline import augment, evaluation_dataset, training_dataset
from training.train_config import Augmentation


def test_cnn_takes_raw_pixel_values_and_returns_probabilities() -> None:
    model = make_model((48, 48, 3), 4)
    pixels = np.random.default_rng(0).integers(0, 256, (2, 48, 48, 3)).astype(np.float32)

    probabilities = model.predict(pixels, verbose=0)

    assert probabilities.shape == (2, 4)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert isinstance(model.layers[1], layers.Rescaling)  # normalisation lives in the model
    assert any(isinstance(layer, layers.BatchNormalization) for layer in model.layers)
    assert any(isinstance(layer, layers.Dropout) for layer in model.layers)
    assert base_model(model) is None and unfreeze_top(model, 10) == 0


def test_unknown_architecture_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown architecture"):
        make_model((32, 32, 3), 2, arch="vgg")


def test_mobilenetv2_starts_frozen_and_fine_tunes_only_its_top_layers() -> None:
    model = make_model((32, 32, 3), 3, arch="mobilenetv2", weights=None, alpha=0.35)
    base = base_model(model)
    assert base is not None
    assert not base.trainable
    frozen_trainable = len(model.trainable_weights)  # the classifier head only

    unfrozen = unfreeze_top(model, 12)

    assert unfrozen > 0
    assert len(model.trainable_weights) > frozen_trainable
    assert all(not layer.trainable for layer in base.layers[:-12])
    assert all(
        not layer.trainable for layer in base.layers if isinstance(layer, layers.BatchNormalization)
    )
    assert isinstance(model.layers[1], layers.Rescaling)


def test_augmentation_keeps_shape_and_range_and_changes_the_images() -> None:
    images = tf.constant(
        np.random.default_rng(1).integers(0, 256, (8, 40, 40, 3)).astype(np.float32)
    )

    augmented = augment(images, Augmentation(translation=0.1), tf.random.Generator.from_seed(3))

    assert augmented.shape == images.shape
    assert float(tf.reduce_min(augmented)) >= 0.0 and float(tf.reduce_max(augmented)) <= 255.0
    assert float(tf.reduce_mean(tf.abs(augmented - images))) > 1.0


def test_a_flip_only_augmentation_flips_or_keeps_each_image_exactly() -> None:
    images = tf.constant(np.arange(4 * 8 * 8 * 3, dtype=np.float32).reshape(4, 8, 8, 3) % 256)
    flip_only = Augmentation(flip=True, rotation=0, zoom=0, translation=0, contrast=0)

    augmented = augment(images, flip_only, tf.random.Generator.from_seed(0)).numpy()

    for original, result in zip(images.numpy(), augmented, strict=True):
        assert np.array_equal(result, original) or np.array_equal(result, original[:, ::-1])


def test_training_batches_are_augmented_and_evaluation_batches_are_not() -> None:
    images = np.random.default_rng(2).integers(0, 256, (6, 16, 16, 3)).astype(np.uint8)
    labels = np.arange(6)

    evaluation = list(evaluation_dataset(images, labels, batch_size=4).as_numpy_iterator())
    training = list(
        training_dataset(
            images, labels, batch_size=6, seed=0, augmentation=Augmentation(contrast=0.5)
        ).as_numpy_iterator()
    )

    assert np.array_equal(np.concatenate([x for x, _ in evaluation]), images.astype(np.float32))
    assert np.array_equal(np.concatenate([y for _, y in evaluation]), labels)
    batch, batch_labels = training[0]
    assert sorted(batch_labels.tolist()) == labels.tolist()  # every image, shuffled
    assert not np.array_equal(batch, images[batch_labels].astype(np.float32))


def test_compiled_model_learns_a_trivial_problem() -> None:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    dark = rng.integers(0, 60, (32, 32, 32, 3))
    light = rng.integers(190, 256, (32, 32, 32, 3))
    images = np.concatenate([dark, light]).astype(np.uint8)
    labels = np.array([0] * 32 + [1] * 32)
    model = make_model((32, 32, 3), 2)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    model.fit(
        training_dataset(images, labels, batch_size=16, seed=0), epochs=8, verbose=0, shuffle=False
    )

    # BatchNorm's moving statistics take a few epochs to settle; the model then separates.
    assert model.evaluate(evaluation_dataset(images, labels, batch_size=64), verbose=0)[1] >= 0.95
