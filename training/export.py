"""TFLite export: full-integer int8 with a representative data set, and a float reference."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Callable, Iterator

import keras
import numpy as np
import tensorflow as tf

Rebuild = Callable[[], keras.Model]


def float32_copy(model: keras.Model, rebuild: Rebuild) -> keras.Model:
    """The model with float32 variables and compute (mixed precision cannot be quantized)."""
    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        copy = rebuild()
    finally:
        keras.mixed_precision.set_global_policy(previous)
    copy.set_weights(model.get_weights())
    return copy


def to_float_tflite(model: keras.Model) -> bytes:
    """The unquantized float32 TFLite model: the size baseline for the int8 one."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    return _convert(converter)


def to_int8_tflite(model: keras.Model, representative_images: np.ndarray) -> bytes:
    """Full-integer int8 (int8 input and output); fails loudly if an op cannot be quantized."""
    if len(representative_images) == 0:
        raise ValueError("int8 conversion needs at least one representative image")

    def representative() -> Iterator[list[np.ndarray]]:
        for image in representative_images:
            yield [image[np.newaxis].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return _convert(converter)


def representative_sample(images: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Up to `count` training images, drawn with a fixed seed, for int8 calibration."""
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(images))[: min(count, len(images))]
    return images[np.sort(chosen)]


def _convert(converter: tf.lite.TFLiteConverter) -> bytes:
    # The converter prints the temporary SavedModel's signature to stdout, and warns that
    # the input has no recorded statistics, which int8 input with calibration does not need.
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.WARNING)  # "Assets written to <a temporary folder>"
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Statistics for quantized inputs", category=UserWarning
            )
            return bytes(converter.convert())
    finally:
        tf_logger.setLevel(level)
