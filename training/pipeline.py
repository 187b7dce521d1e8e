"""tf.data pipelines over preloaded uint8 arrays: cache, shuffle, batch, augment, prefetch."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from training.train_config import Augmentation

AUTOTUNE = tf.data.AUTOTUNE


def training_dataset(
    images: np.ndarray,
    label_ids: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    augmentation: Augmentation | None = None,
) -> tf.data.Dataset:
    """Shuffled, augmented float batches (values 0..255) of the training split."""
    dataset = (
        tf.data.Dataset.from_tensor_slices((images, label_ids))
        .cache()
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(_to_float, num_parallel_calls=AUTOTUNE)
    )
    if augmentation is not None:
        generator = tf.random.Generator.from_seed(seed)
        dataset = dataset.map(
            lambda x, y: (augment(x, augmentation, generator), y), num_parallel_calls=AUTOTUNE
        )
    return dataset.prefetch(AUTOTUNE)


def evaluation_dataset(
    images: np.ndarray, label_ids: np.ndarray, *, batch_size: int
) -> tf.data.Dataset:
    """Float batches of a validation or test split, in order, never augmented."""
    return (
        tf.data.Dataset.from_tensor_slices((images, label_ids))
        .cache()
        .batch(batch_size)
        .map(_to_float, num_parallel_calls=AUTOTUNE)
        .prefetch(AUTOTUNE)
    )


def augment(
    images: tf.Tensor, augmentation: Augmentation, generator: tf.random.Generator
) -> tf.Tensor:
    """Flip, then one affine warp (rotation, zoom, shift), then contrast, per image.

    Keras' RandomRotation and RandomZoom warp the batch once each; one combined warp
    costs half as much, and on two CPU cores augmentation competes with training itself.
    """
    shape = tf.shape(images)
    batch = shape[0]
    if augmentation.flip:
        flip = generator.uniform([batch, 1, 1, 1]) < 0.5
        images = tf.where(flip, tf.reverse(images, axis=[2]), images)
    if augmentation.geometric:
        images = tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=_affine(augmentation, generator, batch, shape[1], shape[2]),
            output_shape=shape[1:3],
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="NEAREST",
        )
    if augmentation.contrast:
        c = augmentation.contrast
        factor = generator.uniform([batch, 1, 1, 1], 1.0 - c, 1.0 + c)
        mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
        images = (images - mean) * factor + mean
    return tf.clip_by_value(images, 0.0, 255.0)


def _affine(
    augmentation: Augmentation,
    generator: tf.random.Generator,
    batch: tf.Tensor,
    height: tf.Tensor,
    width: tf.Tensor,
) -> tf.Tensor:
    """Per-image transforms mapping output pixels to input pixels, about the centre."""
    h = tf.cast(height, tf.float32)
    w = tf.cast(width, tf.float32)
    turn = augmentation.rotation * 2 * math.pi
    angle = generator.uniform([batch], -turn, turn)
    scale = generator.uniform([batch], 1.0 - augmentation.zoom, 1.0 + augmentation.zoom)
    t = augmentation.translation
    dx = generator.uniform([batch], -t, t) * w
    dy = generator.uniform([batch], -t, t) * h
    cos = tf.cos(angle) / scale
    sin = tf.sin(angle) / scale
    cx = (w - 1) / 2
    cy = (h - 1) / 2
    zeros = tf.zeros([batch])
    row_x = [cos, -sin, cx - cos * cx + sin * cy + dx]
    row_y = [sin, cos, cy - sin * cx - cos * cy + dy]
    return tf.stack([*row_x, *row_y, zeros, zeros], axis=1)


def _to_float(images: tf.Tensor, label_ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return tf.cast(images, tf.float32), label_ids
