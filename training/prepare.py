"""The data a run trains on: generated if missing, read as the Lambda reads it, then split."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifier.imaging import InputSpec
from training.data import (
    DataError,
    LoadedImages,
    check_layout,
    class_counts,
    folder_layout,
    list_class_files,
    load_images,
    stratified_split,
)
from training.data_fingerprint import fingerprint
from training.datasets import digits, emoji
from training.datasets.emoji import FontNotFoundError
from training.layout import DataLayout, loose_files_note
from training.train_config import ResolvedConfig

log = logging.getLogger("training")

GENERATED_IMAGE_SIZE = 128  # emoji renders; the model's input size is set by resizing
MAX_LISTED_SKIPS = 20
SKIPPED_FILE_LOG = "skipped %s: %s"  # one unreadable file and why (imgclf lists them itself)


@dataclass(frozen=True)
class PreparedData:
    """The loaded splits, the labels, and what model.json says about the data set."""

    labels: tuple[str, ...]
    train: LoadedImages
    validation: LoadedImages
    test: LoadedImages
    heldout: LoadedImages | None
    info: dict[str, Any]


def prepare_data(config: ResolvedConfig, spec: InputSpec) -> PreparedData:
    """Generate the data set if it is a generated one and missing, then load and split it."""
    generated = _ensure_generated(config)
    index = list_class_files(config.data_dir)
    if config.dataset == "folder":  # the user's own images: labels and counts, before decoding
        _check_folder(folder_layout(index, config.data_dir))
    loaded = load_images(index, spec)
    for path, reason in loaded.skipped[:MAX_LISTED_SKIPS]:
        log.warning(SKIPPED_FILE_LOG, path, reason)
    if len(loaded.label_ids) == 0:
        raise DataError(f"{config.data_dir} has no readable images")
    if config.dataset == "folder" and loaded.skipped:
        check_layout(folder_layout(index, config.data_dir, loaded))
    validation_fraction = 0.0 if config.validation_dir else config.validation_fraction
    split = stratified_split(
        loaded.label_ids,
        validation_fraction=validation_fraction,
        test_fraction=config.test_fraction,
        seed=config.seed,
    )
    validation = loaded.subset(split.validation)
    skipped = list(loaded.skipped)
    if config.validation_dir:
        validation = load_images(list_class_files(config.validation_dir, index.labels), spec)
        skipped += validation.skipped
    heldout = None
    heldout_dir = config.heldout
    if heldout_dir is not None and _has_entries(heldout_dir):
        heldout = load_images(list_class_files(heldout_dir, index.labels), spec)
        skipped += heldout.skipped
    train = loaded.subset(split.train)
    info: dict[str, Any] = {
        "name": config.dataset,
        "fingerprint": fingerprint(index.root, index.files),
        "counts": {
            "total": len(loaded.label_ids),
            "train": len(train.label_ids),
            "validation": len(validation.label_ids),
            "test": len(split.test),
            "per_class": class_counts(loaded.label_ids, index.labels),
        },
        "skipped_unreadable": len(skipped),
        "skipped_files": [
            {"file": str(path), "reason": reason} for path, reason in skipped[:MAX_LISTED_SKIPS]
        ],
        "split": {
            "seed": config.seed,
            "validation_fraction": validation_fraction,
            "test_fraction": config.test_fraction,
            "stratified": True,
        },
    }
    if heldout is not None and heldout_dir is not None:
        heldout_index = list_class_files(heldout_dir, index.labels)
        info["heldout"] = {
            "fingerprint": fingerprint(heldout_index.root, heldout_index.files),
            "count": len(heldout.label_ids),
            "per_class": class_counts(heldout.label_ids, index.labels),
        }
    if generated:
        info["generated"] = generated
    return PreparedData(
        labels=index.labels,
        train=train,
        validation=validation,
        test=loaded.subset(split.test),
        heldout=heldout,
        info=info,
    )


def _check_folder(layout: DataLayout) -> None:
    check_layout(layout)
    note = loose_files_note(layout)
    if note:
        log.warning("%s", note)


def _ensure_generated(config: ResolvedConfig) -> dict[str, Any]:
    """Render emoji or write digits when their folder is missing or empty."""
    summaries: dict[str, Any] = {}
    if config.dataset == "folder":
        if not _has_entries(config.data_dir):
            raise DataError(f"data directory {config.data_dir} is missing or empty")
        return summaries
    if config.dataset == "digits":
        if not _has_entries(config.data_dir):
            log.info("writing the digits data set to %s", config.data_dir)
            summaries["train"] = _without_counts(
                digits.generate(config.data_dir, image_size=config.image_size)
            )
        return summaries
    if not _has_entries(config.data_dir):
        log.info("rendering the emoji data set to %s", config.data_dir)
        summaries["train"] = _without_counts(
            emoji.generate(
                config.data_dir,
                images_per_class=config.images_per_class,
                seed=config.seed,
                image_size=GENERATED_IMAGE_SIZE,
            )
        )
    heldout = config.heldout
    if heldout is not None and not _has_entries(heldout) and config.heldout_images_per_class:
        try:
            summaries["heldout"] = _without_counts(
                emoji.generate(
                    heldout,
                    images_per_class=config.heldout_images_per_class,
                    seed=config.seed,
                    image_size=GENERATED_IMAGE_SIZE,
                    glyph_split="heldout",
                )
            )
        except FontNotFoundError as error:
            log.warning("no held-out glyph set: %s", error)
    return summaries


def _has_entries(directory: Path) -> bool:
    return directory.is_dir() and any(not p.name.startswith(".") for p in directory.iterdir())


def _without_counts(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "counts"}
