"""ImageNet's own classifier mixed with a trained head: real photographs from day 0, and the
user's own domain from their data.

A head trained on renderings (or on a few photos) knows the user's domain; ImageNet's
classifier, with a mapping from its classes to the labels, knows real photographs (the
day-0 model). The exported network computes both from one pass of the frozen base:

    image -> base up to the cut -> pretrained top -> ImageNet logits (1,000)
                                \\-> fine-tuned top -> head logits (labels)

and outputs them side by side. The function mixes them in float after dequantizing
(`classifier.model.mixture`): with m the ImageNet mass on the labels' classes and
w = m ** power, a label's probability is w * (its share of m) + (1 - w) * (the head's).
An image ImageNet recognises as one of the classes is decided by ImageNet; one it does not
(a rendering: m is about 0.05) by the head.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import keras
from keras import layers

from classifier.artifact import OUTPUT_MIXTURE, OutputSpec
from training.backbones import efficientnet_lite as lite
from training.imagenet import (
    ANIMALS10_MAPPING,
    IMAGENET_CLASSES,
    MappingError,
    read_mapping,
)
from training.labels.domain import domain_of
from training.labels.mapper import MappedLabel, animals10_overrides, map_labels
from training.options import AUTO, NONE

log = logging.getLogger(__name__)


def resolve_setting(setting: str, labels: Sequence[str]) -> dict[str, tuple[int, ...]] | None:
    """The label -> ImageNet classes mapping a training run uses, or None for none.

    'auto' maps the label names through the label hierarchy (Animals-10's with its reviewed
    overrides, which give the built-in mapping; a name with no place gets no classes, and
    None when no name has one); a file must cover every label (MappingError otherwise)."""
    if setting.lower() == NONE:
        return None
    if setting.lower() == AUTO:
        return _auto_mapping(labels)
    mapping = read_mapping(Path(setting))
    missing = sorted(set(labels) - set(mapping))
    extra = sorted(set(mapping) - set(labels))
    if missing or extra:
        raise MappingError(
            f"mapping {setting} must name exactly the data set's labels: "
            + "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"not in the data {', '.join(extra)}" if extra else "",
                )
                if part
            )
        )
    return mapping


def _auto_mapping(labels: Sequence[str]) -> dict[str, tuple[int, ...]] | None:
    """Each label's ImageNet classes through the hierarchy; a label with no place gets none
    (only the trained head can say it), and None when no label has a place."""
    overrides = animals10_overrides() if set(labels) == set(ANIMALS10_MAPPING) else None
    placed = []
    for label in labels:
        try:
            map_labels([label], overrides)
            placed.append(label)
        except MappingError:
            pass
    unplaced = sorted(set(labels) - set(placed))
    try:
        if not placed:
            raise MappingError(f"no ImageNet class for {', '.join(unplaced)}")
        mapped = map_labels(placed, overrides)
    except MappingError as error:
        # Training goes on without ImageNet's classes: the head alone decides.
        log.warning("imagenet mapping 'auto': %s; training without it", error)
        return None
    if unplaced:  # a warning: `imgclf train` prints it, and a name that says nothing is a typo
        log.warning(
            "imagenet mapping 'auto': no ImageNet class is a %s (`imgclf model day0 --labels` "
            "suggests close names): only the trained head can say it",
            ", ".join(repr(label) for label in unplaced),
        )
    for label in sorted(mapped):
        _warn_if_another_sense(mapped[label], labels)
    return {label: mapped[label].indices if label in mapped else () for label in sorted(labels)}


def _warn_if_another_sense(mapped: MappedLabel, labels: Sequence[str]) -> None:
    """Say which sense 'auto' took for a name WordNet gives other senses (a folder `crane`:
    the machine, not the bird), as `imgclf model day0` prints it for review."""
    if not (mapped.other_senses or mapped.unmet_first_sense):
        return
    log.warning(
        "imagenet mapping 'auto': %r is %s (%s): %s; other senses: %s (review with "
        "`imgclf model day0 --labels %s`; a mapping file, --imagenet-mapping FILE, picks others)",
        mapped.label,
        mapped.node_name,
        mapped.node_id or "classes listed",
        mapped.gloss,
        "; ".join(mapped.other_senses) or f"WordNet's first, {mapped.unmet_first_sense}",
        ",".join(sorted(labels)),
    )


def output_spec(
    mapping: Mapping[str, tuple[int, ...]],
    labels: Sequence[str],
    power: float,
    *,
    head_outside: bool = False,
) -> OutputSpec:
    """model.json's `output` for a mixture over `labels` (in the model's label order)."""
    return OutputSpec(
        OUTPUT_MIXTURE,
        tuple(tuple(mapping.get(label, ())) for label in labels),
        sources=IMAGENET_CLASSES,
        power=power,
        domain=domain_of(mapping),
        head_outside=head_outside,
    )


def mixture_network(tuned: keras.Model, image_size: int, cut_block: int) -> keras.Model:
    """One network: image -> [ImageNet logits, head logits], sharing the frozen base.

    `tuned` is the trained classifier (`lite.make_classifier` layout: its base's layers from
    `cut_block` up were fine-tuned, `probs` is the head)."""
    from training.transfer import copy_weights_by_name, front_of

    reference = lite.imagenet_classifier(image_size, weights="imagenet")
    front = front_of(reference, image_size, cut_block)
    cut_shape = tuple(front.output.shape[1:])

    def top(name: str, outputs: int, source: keras.Model, dense: layers.Layer) -> keras.Model:
        inputs = keras.Input(shape=cut_shape, name=f"{name}_activations")
        x = lite.build_top_blocks(inputs, cut_block)
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        logits = layers.Dense(outputs, name=f"{name}_logits")(x)
        model = keras.Model(inputs, logits, name=name)
        copy_weights_by_name(source, model, skip=(f"{name}_logits",))
        model.get_layer(f"{name}_logits").set_weights(dense.get_weights())
        return model

    labels = int(tuned.get_layer("probs").units)
    imagenet_top = top(
        "imagenet",
        IMAGENET_CLASSES,
        reference.get_layer(lite.BASE_NAME),
        reference.get_layer("imagenet_logits"),
    )
    head_top = top("head", labels, tuned.get_layer(lite.BASE_NAME), tuned.get_layer("probs"))
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    activations = front(inputs)
    outputs = layers.Concatenate(name="mixture_logits")(
        [imagenet_top(activations), head_top(activations)]
    )
    return keras.Model(inputs, outputs, name=f"{lite.ARCH}_mixture")
