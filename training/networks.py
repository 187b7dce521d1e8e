"""The networks: a small from-scratch CNN, and MobileNetV2 or EfficientNet-Lite0 transfer learning.

All take uint8 RGB values (0..255, as float) and normalise inside the model, so the
exported TFLite model needs nothing but `classifier.imaging.prepare_image` in front of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from training.options import ARCHITECTURES

CNN_FILTERS = (32, 64, 128, 256)
BN_MOMENTUM = 0.9  # few steps per epoch: the moving statistics must keep up
BASE_NAME = "base"


def make_model(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    arch: str = "cnn",
    weights: str | None = None,
    dropout: float = 0.3,
    alpha: float = 1.0,
) -> keras.Model:
    """A classifier from uint8-valued RGB input to class probabilities."""
    if arch == "cnn":
        return _make_cnn(input_shape, num_classes, dropout)
    if arch == "mobilenetv2":
        return _make_mobilenetv2(input_shape, num_classes, weights, dropout, alpha)
    if arch == "efficientnet_lite0":
        from training.backbones import efficientnet_lite  # its own weights reader, loaded lazily

        return efficientnet_lite.make_classifier(
            input_shape, num_classes, weights=weights, dropout=dropout
        )
    raise ValueError(f"unknown architecture {arch!r}; use one of {ARCHITECTURES}")


def base_model(model: keras.Model) -> keras.Model | None:
    """The pretrained base of a transfer-learning model, None for the CNN."""
    try:
        base = model.get_layer(BASE_NAME)
    except ValueError:
        return None
    return base if isinstance(base, keras.Model) else None


def unfreeze_top(model: keras.Model, layer_count: int) -> int:
    """Make the top `layer_count` layers of the base trainable; returns how many now train.

    BatchNormalization stays frozen: the base runs in inference mode, and updating its
    statistics on a small data set would wreck the pretrained features.
    """
    base = base_model(model)
    if base is None:
        return 0
    base.trainable = True
    boundary = max(0, len(base.layers) - layer_count)
    trainable = 0
    for position, layer in enumerate(base.layers):
        train = position >= boundary and not isinstance(layer, layers.BatchNormalization)
        layer.trainable = train
        trainable += int(train and bool(layer.weights))
    return trainable


def _make_cnn(input_shape: tuple[int, int, int], num_classes: int, dropout: float) -> keras.Model:
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1.0 / 255, name="normalise")(inputs)
    # A strided stem halves the resolution at once: most of the cost of a small CNN is
    # in its first layers, and the Lambda's budget is a few milliseconds per image.
    x = _conv_bn_relu(x, CNN_FILTERS[0], strides=2, name="stem")
    x = layers.MaxPooling2D(name="stem_pool")(x)
    for i, filters in enumerate(CNN_FILTERS[1:-1], start=1):
        x = _conv_bn_relu(x, filters, name=f"block{i}")
        x = layers.MaxPooling2D(name=f"block{i}_pool")(x)
    x = _conv_bn_relu(x, CNN_FILTERS[-1], name="head")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="probs")(x)
    return keras.Model(inputs, outputs, name="cnn")


def _conv_bn_relu(x: keras.KerasTensor, filters: int, *, name: str, strides: int = 1):  # type: ignore[no-untyped-def]
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _make_mobilenetv2(
    input_shape: tuple[int, int, int],
    num_classes: int,
    weights: str | None,
    dropout: float,
    alpha: float,
) -> keras.Model:
    base = keras.applications.MobileNetV2(
        input_shape=input_shape, include_top=False, weights=weights, alpha=alpha
    )
    base = keras.Model(base.input, base.output, name=BASE_NAME)
    base.trainable = False
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="normalise")(inputs)  # MobileNet: -1..1
    x = base(x, training=False)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="probs")(x)
    return keras.Model(inputs, outputs, name="mobilenetv2")


def trainable_summary(model: keras.Model) -> dict[str, int]:
    """Parameter counts: total and trainable."""
    return {
        "params": int(model.count_params()),
        "trainable_params": int(sum(_size(w.shape) for w in model.trainable_weights)),
    }


def _size(shape: Sequence[int | None]) -> int:
    total = 1
    for dim in shape:
        total *= int(dim or 1)
    return total
