"""TFLite export: full-integer int8 with a representative data set, and a float reference.

A classifier trains with a softmax head, but is exported with the head's logits as its output
(`serving_network`): XNNPACK has no int8 SOFTMAX, so that one op would run on LiteRT's own
kernel, and the function takes the softmax in float64 anyway (model.json `output` kind
`logits`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Callable, Iterator

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from classifier.artifact import OUTPUT_LOGITS, OUTPUT_PROBABILITIES, OutputSpec

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


def head_logits(model: keras.Model) -> keras.Model | None:
    """The model with its head's pre-activation logits as its output, None unless its one
    output is a Dense layer's softmax. The cut shares every layer below the head, whose
    weights a linear Dense takes over: softmax(cut(x)) is model(x)."""
    head = model.layers[-1]
    if (
        len(model.outputs) != 1
        or not isinstance(head, layers.Dense)
        or head.activation is not keras.activations.softmax
        or model.outputs[0] is not head.output
    ):
        return None
    logits = layers.Dense(head.units, dtype=head.dtype_policy, name=f"{head.name}_logits")
    outputs = logits(head.input)
    logits.set_weights(head.get_weights())
    return keras.Model(model.inputs, outputs, name=model.name)


def serving_network(
    model: keras.Model, output: OutputSpec | None = None
) -> tuple[keras.Model, OutputSpec]:
    """The network to convert and model.json's `output` for it. A model whose output is a
    softmax head (`output` probabilities, the default) is cut below the softmax: its head's
    logits, kind `logits`. Any other model (ImageNet logits, a mixture) is converted as it is."""
    output = output or OutputSpec()
    cut = head_logits(model)
    if cut is None:
        return model, output
    if output.kind != OUTPUT_PROBABILITIES:
        raise ValueError(f"a softmax head outputs probabilities, not {output.kind}")
    return cut, OutputSpec(OUTPUT_LOGITS)


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
