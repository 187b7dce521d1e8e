"""Transfer learning on a pretrained base within a CPU budget: cached activations.

The base is frozen below `cut_block`, so its output for an image never changes while
training: it is computed once per image (and per augmented view) and cached on disk. Two
phases then train only what sits above the cut, on those activations:
1. the new head alone, on the pooled features of the frozen top;
2. the top blocks and the head together, at a tenth of the learning rate (batch norm
   stays frozen: a few thousand images would wreck its statistics).
The trained layers are copied by name into the whole classifier, which is what is exported.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers
from PIL import Image

from training.backbones import efficientnet_lite as lite
from training.fitting import EpochProgress, ProgressCallback

log = logging.getLogger(__name__)

DEFAULT_CUT_BLOCK = 15  # the last MBConv block and the head conv are fine-tuned
PREDICT_BATCH = 32


@dataclass(frozen=True)
class TransferData:
    """Training and validation images (0..255 uint8) with label ids."""

    train_images: np.ndarray
    train_ids: np.ndarray
    validation_images: np.ndarray
    validation_ids: np.ndarray


@dataclass(frozen=True)
class TransferOutcome:
    """The whole classifier with the trained top, the merged history and timings."""

    model: keras.Model
    history: dict[str, list[float]]
    fine_tune_from: int
    feature_seconds: float
    train_seconds: float


def augmented_views(images: np.ndarray, views: int, seed: int) -> np.ndarray:
    """`views` random variants of each image: flip, crop of 60-100% of the area, resize."""
    if views <= 0 or len(images) == 0:
        return images[:0]
    rng = np.random.default_rng(seed)
    height, width = images.shape[1:3]
    out = np.empty((len(images) * views, height, width, 3), np.uint8)
    row = 0
    for image in images:
        for _ in range(views):
            area = rng.uniform(0.6, 1.0)
            aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
            crop_w = min(width, max(8, int(round(width * math.sqrt(area * aspect)))))
            crop_h = min(height, max(8, int(round(height * math.sqrt(area / aspect)))))
            left = int(rng.integers(0, width - crop_w + 1))
            top = int(rng.integers(0, height - crop_h + 1))
            view = Image.fromarray(image[top : top + crop_h, left : left + crop_w])
            view = view.resize((width, height), Image.Resampling.BILINEAR)
            array = np.asarray(view)
            out[row] = array[:, ::-1] if rng.random() < 0.5 else array
            row += 1
    return out


def front_model(image_size: int, cut_block: int, weights: str | None) -> keras.Model:
    """0..255 RGB to the activations entering `cut_block`, with the pretrained weights."""
    return front_of(lite.imagenet_classifier(image_size, weights=weights), image_size, cut_block)


def front_of(classifier: keras.Model, image_size: int, cut_block: int) -> keras.Model:
    """The front of an existing ImageNet classifier, sharing its layers and weights."""
    base = classifier.get_layer(lite.BASE_NAME)
    inner = keras.Model(base.input, base.get_layer(lite.block_input_name(cut_block)).output)
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    return keras.Model(inputs, inner(lite.normalise(inputs)), name="front")


def cached_activations(
    front: keras.Model, images: np.ndarray, cache_dir: Path | None, tag: str
) -> np.ndarray:
    """The front's output for every image, from `cache_dir` when these exact bytes were seen."""
    digest = hashlib.sha256()
    digest.update(tag.encode())
    digest.update(str(images.shape).encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    path = cache_dir / f"activations-{digest.hexdigest()[:20]}.npy" if cache_dir else None
    if path is not None and path.is_file():
        cached: np.ndarray = np.load(path)
        return cached
    result = np.asarray(
        front.predict(images.astype(np.float32), batch_size=PREDICT_BATCH, verbose=0)
    )
    result = result.astype(np.float16)  # half the disk and memory; ReLU6-bounded values
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npy")
        np.save(partial, result)
        partial.replace(path)
    return result


def top_model(
    cut_shape: tuple[int, ...], num_classes: int, cut_block: int, dropout: float
) -> keras.Model:
    """Cached activations to class probabilities: blocks from the cut, head conv, new head."""
    inputs = keras.Input(shape=cut_shape, name="activations")
    x = lite.build_top_blocks(inputs, cut_block)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="probs")(x)
    return keras.Model(inputs, outputs, name="top")


def fit_transfer(
    data: TransferData,
    num_classes: int,
    *,
    image_size: int,
    weights: str | None,
    epochs: int,
    fine_tune_epochs: int,
    learning_rate: float,
    batch_size: int,
    seed: int,
    class_weight: dict[int, float] | None = None,
    cut_block: int = DEFAULT_CUT_BLOCK,
    dropout: float = 0.2,
    cache_dir: Path | None = None,
    progress: ProgressCallback | None = None,
) -> TransferOutcome:
    """Train the head, then fine-tune the top blocks, on cached activations."""
    started = time.monotonic()
    front = front_model(image_size, cut_block, weights)
    tag = f"{lite.ARCH}:{lite.weights_version() if weights else 'none'}:{cut_block}:{image_size}"
    train_x = cached_activations(front, data.train_images, cache_dir, tag)
    has_validation = len(data.validation_ids) > 0
    val_x = (
        cached_activations(front, data.validation_images, cache_dir, tag)
        if has_validation
        else None
    )
    feature_seconds = time.monotonic() - started

    classifier = lite.make_classifier(
        (image_size, image_size, 3), num_classes, weights=weights, dropout=dropout
    )
    base = classifier.get_layer(lite.BASE_NAME)
    top = top_model(train_x.shape[1:], num_classes, cut_block, dropout)
    copy_weights_by_name(base, top)
    total = epochs + fine_tune_epochs
    history: dict[str, list[float]] = {}
    trained_started = time.monotonic()
    for phase, phase_epochs, rate in (
        ("head", epochs, learning_rate),
        ("fine_tune", fine_tune_epochs, learning_rate / 10),
    ):
        if phase_epochs <= 0:
            continue
        for layer in top.layers:
            trainable = layer.name in ("probs",) or (
                phase == "fine_tune" and not isinstance(layer, layers.BatchNormalization)
            )
            layer.trainable = trainable
        steps = max(1, math.ceil(len(train_x) / batch_size))
        top.compile(
            optimizer=keras.optimizers.Adam(
                keras.optimizers.schedules.CosineDecay(
                    rate, decay_steps=phase_epochs * steps, alpha=0.05
                )
            ),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        done = len(history.get("loss", []))
        callbacks: list[keras.callbacks.Callback] = []
        if progress is not None:
            callbacks.append(EpochProgress(progress, total))
        fitted = top.fit(
            train_x.astype(np.float32),
            data.train_ids,
            validation_data=(val_x.astype(np.float32), data.validation_ids)
            if val_x is not None
            else None,
            batch_size=batch_size,
            initial_epoch=done,
            epochs=done + phase_epochs,
            class_weight=class_weight,
            shuffle=True,
            verbose=0,
            callbacks=callbacks,
        )
        for key, values in fitted.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
    copy_weights_by_name(top, base)
    classifier.get_layer("probs").set_weights(top.get_layer("probs").get_weights())
    log.info(
        "transfer: %d activations in %.0f s, training %.0f s",
        len(train_x) + (len(val_x) if val_x is not None else 0),
        feature_seconds,
        time.monotonic() - trained_started,
    )
    return TransferOutcome(
        model=classifier,
        history=history,
        fine_tune_from=epochs,
        feature_seconds=feature_seconds,
        train_seconds=time.monotonic() - started,
    )


def copy_weights_by_name(
    source: keras.Model, target: keras.Model, skip: tuple[str, ...] = ("probs",)
) -> None:
    """Weights of every layer that both models have, by layer name, except `skip`."""
    names = {layer.name for layer in source.layers}
    for layer in target.layers:
        if layer.name in names and layer.weights and layer.name not in skip:
            layer.set_weights(source.get_layer(layer.name).get_weights())
