"""Folder-per-class data: listing, loading through the Lambda's preprocessing, splits, weights.

Images are decoded and resized by `classifier.imaging.prepare_image`, the function the
Lambda runs, instead of `keras.utils.image_dataset_from_directory`: TensorFlow's decoder and
resize differ from Pillow's in the last bits, and it stops at the first unreadable file.
Every split (train, validation, test) therefore holds exactly the arrays production sees.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classifier import word_forms
from classifier.imaging import ImageLimits, InputSpec, RejectedImageError, prepare_image
from training.datasets.animals10 import english_label
from training.layout import DataLayout, label_problem, layout_problem

# Training sees what the function accepts, so an image the Lambda would reject is skipped.
TRAINING_LIMITS = ImageLimits()
LOAD_WORKERS = 4


class DataError(ValueError):
    """The data set cannot be used: no classes, no images, bad labels, or labels the model lacks."""


@dataclass(frozen=True)
class FileIndex:
    """The files of a folder-per-class data set, each with its class index."""

    root: Path
    labels: tuple[str, ...]
    files: tuple[Path, ...]
    label_ids: tuple[int, ...]


@dataclass(frozen=True)
class LoadedImages:
    """Model input arrays (N x H x W x 3 uint8) with labels; unreadable files are listed."""

    images: np.ndarray
    label_ids: np.ndarray
    files: tuple[Path, ...]
    skipped: tuple[tuple[Path, str], ...] = field(default=())

    def subset(self, indices: np.ndarray) -> LoadedImages:
        """The images at the given indices (skipped files stay with the whole set)."""
        return LoadedImages(
            images=self.images[indices],
            label_ids=self.label_ids[indices],
            files=tuple(self.files[i] for i in indices),
        )


@dataclass(frozen=True)
class Split:
    """Indices of the train, validation and test parts of one data set."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def find_class_root(directory: Path) -> Path:
    """Descend through single wrapper folders, so Animals-10's `raw-img/` works as downloaded."""
    current = directory
    while True:
        subdirs = _visible_dirs(current)
        if len(subdirs) != 1 or not _visible_dirs(subdirs[0]):
            return current
        current = subdirs[0]


def _onto_labels(by_label: dict[str, list[Path]], labels: Sequence[str]) -> dict[str, list[Path]]:
    """Folder labels matched to a model's labels as `--labels` and queries match names: in any
    case, with spaces or underscores, singular or plural (a folder `dams` for a label
    `dam`, `solar_thermal_collector` for `solar thermal collector`)."""

    def forms(name: str) -> tuple[str, ...]:
        key = word_forms.label_key(name)
        return (key, *word_forms.singulars(key))

    named: dict[str, str] = {}
    for label in labels:
        for form in forms(label):
            named.setdefault(form, label)
    matched: dict[str, list[Path]] = {}
    for folder_label, files in by_label.items():
        target = folder_label if folder_label in labels else None
        target = target or next((named[f] for f in forms(folder_label) if f in named), None)
        matched.setdefault(target or folder_label, []).extend(files)
    return matched


def list_class_files(directory: Path, labels: Sequence[str] | None = None) -> FileIndex:
    """List every visible file under each class folder; folder names map to English labels.

    With `labels`, class indices follow that order (a model's labels), a folder names its
    label in any case, spacing or number (`_onto_labels`), and a folder whose label is not
    among them is an error; without, labels are the sorted folder labels.
    A label the function could not write as an S3 tag value is an error too.
    """
    if not directory.is_dir():
        raise DataError(f"data directory {directory} does not exist")
    root = find_class_root(directory)
    by_label: dict[str, list[Path]] = {}
    for class_dir in _visible_dirs(root):
        label = english_label(class_dir.name)
        check_class_label(class_dir, label)
        files = sorted(p for p in class_dir.rglob("*") if p.is_file() and not _hidden(p, root))
        by_label.setdefault(label, []).extend(files)
    if not by_label:
        raise DataError(str(layout_problem(DataLayout(str(directory), "folder", {}))))
    if labels is None:
        labels = sorted(by_label)
    else:
        by_label = _onto_labels(by_label, labels)
    unknown = sorted(set(by_label) - set(labels))
    if unknown:
        raise DataError(f"{directory} has classes the model does not know: {', '.join(unknown)}")
    index = {label: i for i, label in enumerate(labels)}
    pairs = sorted(
        ((path, index[label]) for label, paths in by_label.items() for path in paths),
        key=lambda pair: pair[0].relative_to(root).as_posix(),
    )
    if not pairs:
        raise DataError(f"{directory} has class folders but no files in them")
    return FileIndex(
        root=root,
        labels=tuple(labels),
        files=tuple(path for path, _ in pairs),
        label_ids=tuple(label_id for _, label_id in pairs),
    )


def check_class_label(folder: Path, label: str) -> None:
    """Refuse a class label that is blank or that S3 cannot store as a tag value."""
    problem = label_problem("folder", str(folder), label)
    if problem:
        raise DataError(problem)


def folder_layout(index: FileIndex, shown: Path, loaded: LoadedImages | None = None) -> DataLayout:
    """A listed folder's layout, for `training.layout`'s checks: files per label (or, given
    the loaded images, readable images per label) and the files directly under its root."""
    label_ids = index.label_ids if loaded is None else tuple(int(i) for i in loaded.label_ids)
    per_label = Counter(label_ids)
    loose = tuple(
        path.name
        for path in sorted(index.root.iterdir())
        if path.is_file() and not path.name.startswith(".")
    )
    return DataLayout(
        root=str(shown),
        kind="folder",
        counts={label: per_label[i] for i, label in enumerate(index.labels)},
        loose=loose,
        unreadable=0 if loaded is None else len(loaded.skipped),
    )


def check_layout(layout: DataLayout) -> None:
    """Refuse a data set with too few labels, or a label with too few images (one line)."""
    problem = layout_problem(layout)
    if problem:
        raise DataError(problem)


def load_image(path: Path, spec: InputSpec, limits: ImageLimits = TRAINING_LIMITS) -> np.ndarray:
    """One file's model input array, exactly as the Lambda computes it from the same bytes."""
    return prepare_image(path.read_bytes(), spec, limits).array


def load_images(
    index: FileIndex, spec: InputSpec, limits: ImageLimits = TRAINING_LIMITS
) -> LoadedImages:
    """Load every file of an index; files the Lambda would reject are skipped and listed."""

    def attempt(path: Path) -> np.ndarray | str:
        try:
            return load_image(path, spec, limits)
        except RejectedImageError as error:
            return error.reason
        except OSError as error:
            return f"cannot read file: {error.strerror or error}"

    with ThreadPoolExecutor(max_workers=LOAD_WORKERS) as pool:
        outcomes = list(pool.map(attempt, index.files))
    kept = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, np.ndarray)]
    skipped = tuple(
        (index.files[i], outcome) for i, outcome in enumerate(outcomes) if isinstance(outcome, str)
    )
    images = (
        np.stack([outcomes[i] for i in kept])
        if kept
        else np.zeros((0, spec.height, spec.width, 3), np.uint8)
    )
    return LoadedImages(
        images=images,
        label_ids=np.asarray([index.label_ids[i] for i in kept], dtype=np.int64),
        files=tuple(index.files[i] for i in kept),
        skipped=skipped,
    )


def stratified_split(
    label_ids: Sequence[int] | np.ndarray,
    *,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
) -> Split:
    """Split indices per class with a fixed seed; every class with 3+ images is in every part."""
    if validation_fraction < 0 or test_fraction < 0 or validation_fraction + test_fraction >= 1:
        raise ValueError("validation and test fractions must be >= 0 and sum to less than 1")
    label_ids = np.asarray(label_ids)
    rng = np.random.default_rng(seed)
    parts: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
    for label in np.unique(label_ids):
        members = rng.permutation(np.flatnonzero(label_ids == label))
        n_test = _share(len(members), test_fraction)
        n_val = _share(len(members), validation_fraction)
        while n_test + n_val >= len(members) and n_test + n_val > 0:  # keep one to train on
            if n_val >= n_test:
                n_val -= 1
            else:
                n_test -= 1
        parts[2].append(members[:n_test])
        parts[1].append(members[n_test : n_test + n_val])
        parts[0].append(members[n_test + n_val :])
    train, validation, test = (
        np.sort(np.concatenate(part)) if part else np.zeros(0, np.int64) for part in parts
    )
    return Split(train=train, validation=validation, test=test)


def class_weights(label_ids: Sequence[int] | np.ndarray, num_classes: int) -> dict[int, float]:
    """Balanced weights (n / (k * n_c)), so a rare class counts as much as a common one."""
    counts = np.bincount(np.asarray(label_ids, dtype=np.int64), minlength=num_classes)
    present = counts > 0
    total = counts.sum()
    return {
        int(c): float(total / (present.sum() * counts[c])) if present[c] else 0.0
        for c in range(num_classes)
    }


def class_counts(label_ids: Sequence[int] | np.ndarray, labels: Sequence[str]) -> dict[str, int]:
    """How many images each label has."""
    counts = np.bincount(np.asarray(label_ids, dtype=np.int64), minlength=len(labels))
    return {label: int(counts[i]) for i, label in enumerate(labels)}


def _share(count: int, fraction: float) -> int:
    """A class's share of a split: at least one when the class can spare it (3+ images)."""
    if fraction <= 0 or count < 3:
        return 0
    return max(1, round(count * fraction))


def _visible_dirs(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)
