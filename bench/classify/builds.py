"""The bench's models, each as an int8 artifact for LiteRT and the float Keras model the naive
baseline runs: EfficientNet-Lite0 (training.export, as training builds it) and MobileNetV2."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from classifier.artifact import ModelMetadata
from classifier.imaging import InputSpec
from classifier.verify import PROBE_IMAGES, write_checked_artifact

from .inputs import lite0_calibration, photo_like

CLASSES = 10


def build_mnv2(directory: Path, size: int) -> tuple[Path, Any]:
    """MobileNetV2 (alpha 1.0, random weights: latency does not depend on them) at `size` px:
    the int8 artifact and the float Keras model, saved beside it for the cold start."""
    import keras
    import tensorflow as tf

    from training import export

    keras.utils.set_random_seed(0)
    inputs_ = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs_)
    base = keras.applications.MobileNetV2(
        input_shape=(size, size, 3), weights=None, include_top=False, pooling="avg"
    )
    outputs = keras.layers.Dense(CLASSES, activation="softmax")(base(x))
    model = keras.Model(inputs_, outputs)
    network, output = export.serving_network(model)  # the head's logits, as training ships
    converter = tf.lite.TFLiteConverter.from_keras_model(network)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    converter.representative_dataset = lambda: (
        [rng.uniform(0, 255, (1, size, size, 3)).astype(np.float32)] for _ in range(20)
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    metadata = ModelMetadata(
        version=f"bench-mnv2-{size}",
        input=InputSpec(size, size),
        labels=tuple(f"class{i}" for i in range(CLASSES)),
        output=output,
    )
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints its SavedModel
        tflite = converter.convert()
    probe = np.stack([np.asarray(photo_like(size, size, seed)) for seed in range(PROBE_IMAGES)])
    artifact = write_checked_artifact(directory / f"mnv2-{size}", tflite, metadata, None, probe)
    model.save(directory / f"mnv2-{size}.keras")
    return artifact, model


def build_lite0(directory: Path, images: dict[str, bytes]) -> tuple[Path, Any, str]:
    """EfficientNet-Lite0 at 224 px with a new 10-class head, int8 through training.export.

    ImageNet weights when the weights package is installed (converted once and cached, as
    training does); random ones otherwise. Calibration: the bench's own inputs, prepared as
    the function prepares them, plus a few more synthetic photos.
    """
    import keras

    from training import export
    from training.backbones import efficientnet_lite as lite

    keras.utils.set_random_seed(0)
    shape = (lite.IMAGE_SIZE, lite.IMAGE_SIZE, 3)
    try:
        model, weights = lite.make_classifier(shape, CLASSES), "ImageNet weights"
    except lite.WeightsUnavailableError as error:
        print(f"[Lite0: {error}; random weights]")
        model, weights = lite.make_classifier(shape, CLASSES, weights=None), "random weights"
    spec = InputSpec(lite.IMAGE_SIZE, lite.IMAGE_SIZE)
    network, output = export.serving_network(model)
    metadata = ModelMetadata(
        version="bench-lite0-224",
        input=spec,
        labels=tuple(f"class{i}" for i in range(CLASSES)),
        architecture=lite.ARCH,
        output=output,
    )
    calibration = lite0_calibration(images, spec)
    int8 = export.to_int8_tflite(network, calibration)
    artifact = write_checked_artifact(directory / "lite0-224", int8, metadata, None, calibration)
    return artifact, model, weights
