"""Folder-per-class data: label mapping, listing, loading, splits, weights, fingerprint."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifier.imaging import ImageLimits, InputSpec, prepare_image
from training.data import (
    DataError,
    class_weights,
    find_class_root,
    list_class_files,
    load_images,
    stratified_split,
)
from training.data_fingerprint import fingerprint
from training.datasets.animals10 import ITALIAN_TO_ENGLISH, LABELS, english_label

SPEC = InputSpec(height=16, width=16)


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (20, 12)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _write(root: Path, relative: str, data: bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_animals10_italian_folders_map_to_the_ten_english_labels() -> None:
    assert {english_label(folder) for folder in ITALIAN_TO_ENGLISH} == set(LABELS)
    assert english_label("cane") == "dog"
    assert english_label("scoiattolo") == "squirrel"
    assert english_label("Ragno") == "spider"
    assert len(LABELS) == 10


def test_other_folder_names_are_labels_as_they_are() -> None:
    assert english_label("7") == "7"
    assert english_label("Golden Retriever") == "Golden Retriever"


def test_animals10_layout_as_downloaded_is_found_under_raw_img(tmp_path: Path) -> None:
    _write(tmp_path, "translate.py", b"# not an image")
    _write(tmp_path, "raw-img/cane/OIP-1.jpeg", _png((1, 2, 3)))
    _write(tmp_path, "raw-img/gatto/OIP-2.jpeg", _png((4, 5, 6)))

    index = list_class_files(tmp_path)

    assert find_class_root(tmp_path) == tmp_path / "raw-img"
    assert index.labels == ("cat", "dog")
    assert [
        (p.name, index.labels[i]) for p, i in zip(index.files, index.label_ids, strict=True)
    ] == [
        ("OIP-1.jpeg", "dog"),
        ("OIP-2.jpeg", "cat"),
    ]


def test_italian_and_english_folders_of_one_class_merge(tmp_path: Path) -> None:
    _write(tmp_path, "cane/a.png", _png((0, 0, 0)))
    _write(tmp_path, "dog/b.png", _png((0, 0, 0)))
    _write(tmp_path, "gatto/c.png", _png((0, 0, 0)))

    index = list_class_files(tmp_path)

    assert index.labels == ("cat", "dog")
    assert sorted(index.label_ids) == [0, 1, 1]


def test_hidden_files_and_folders_are_ignored(tmp_path: Path) -> None:
    _write(tmp_path, "cat/a.png", _png((0, 0, 0)))
    _write(tmp_path, "cat/.DS_Store", b"junk")
    _write(tmp_path, ".cache/x.png", _png((0, 0, 0)))
    _write(tmp_path, "dog/b.png", _png((0, 0, 0)))

    index = list_class_files(tmp_path)

    assert [p.name for p in index.files] == ["a.png", "b.png"]


def test_a_model_label_order_is_kept_and_unknown_classes_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "dog/a.png", _png((0, 0, 0)))
    assert list_class_files(tmp_path, ("zebra", "dog")).label_ids == (1,)
    with pytest.raises(DataError, match="does not know: dog"):
        list_class_files(tmp_path, ("cat",))


def test_missing_or_classless_directories_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        list_class_files(tmp_path / "nowhere")
    _write(tmp_path, "loose.png", _png((0, 0, 0)))
    with pytest.raises(DataError, match="has no label folders; put each label.s images under"):
        list_class_files(tmp_path)


def test_unreadable_files_are_skipped_and_counted_never_fatal(tmp_path: Path) -> None:
    good = _write(tmp_path, "cat/good.png", _png((200, 10, 10)))
    _write(tmp_path, "cat/truncated.png", _png((1, 1, 1))[:40])
    _write(tmp_path, "dog/notes.txt", b"not an image at all")
    _write(tmp_path, "dog/empty.jpg", b"")
    _write(tmp_path, "dog/fine.png", _png((10, 200, 10)))

    loaded = load_images(list_class_files(tmp_path), SPEC)

    assert [p.name for p in loaded.files] == ["good.png", "fine.png"]
    assert sorted(p.name for p, _ in loaded.skipped) == ["empty.jpg", "notes.txt", "truncated.png"]
    assert all(reason for _, reason in loaded.skipped)
    assert loaded.images.shape == (2, 16, 16, 3)
    assert loaded.images.dtype == np.uint8
    expected = prepare_image(good.read_bytes(), SPEC, ImageLimits()).array
    assert np.array_equal(loaded.images[0], expected)
    assert list(loaded.label_ids) == [0, 1]


def test_stratified_split_is_disjoint_complete_proportional_and_seeded() -> None:
    labels = np.array([0] * 100 + [1] * 40 + [2] * 20)

    split = stratified_split(labels, validation_fraction=0.15, test_fraction=0.15, seed=7)
    again = stratified_split(labels, validation_fraction=0.15, test_fraction=0.15, seed=7)
    other = stratified_split(labels, validation_fraction=0.15, test_fraction=0.15, seed=8)

    everything = np.concatenate([split.train, split.validation, split.test])
    assert sorted(everything) == list(range(len(labels)))
    assert np.bincount(labels[split.test]).tolist() == [15, 6, 3]
    assert np.bincount(labels[split.validation]).tolist() == [15, 6, 3]
    assert np.array_equal(split.test, again.test) and np.array_equal(split.train, again.train)
    assert not np.array_equal(split.test, other.test)


def test_stratified_split_keeps_tiny_classes_in_training() -> None:
    labels = np.array([0, 0, 1, 1, 1])

    split = stratified_split(labels, validation_fraction=0.3, test_fraction=0.3, seed=0)

    assert sorted(labels[split.train].tolist()) == [0, 0, 1]
    assert labels[split.test].tolist() == [1] and labels[split.validation].tolist() == [1]


def test_stratified_split_refuses_fractions_that_leave_no_training_data() -> None:
    with pytest.raises(ValueError, match="sum to less than 1"):
        stratified_split([0, 1], validation_fraction=0.5, test_fraction=0.5, seed=0)


def test_class_weights_balance_the_classes() -> None:
    weights = class_weights([0, 0, 0, 1], num_classes=3)

    assert weights[0] * 3 == pytest.approx(weights[1] * 1)  # each class weighs the same in all
    assert weights[0] == pytest.approx(4 / (2 * 3))
    assert weights[2] == 0.0  # absent from training: no weight, no division by zero


def test_fingerprint_changes_with_bytes_and_names_not_with_location(tmp_path: Path) -> None:
    a = _write(tmp_path / "one", "cat/a.png", _png((1, 1, 1)))
    b = _write(tmp_path / "two", "cat/a.png", _png((1, 1, 1)))
    first = fingerprint(tmp_path / "one", [a])

    assert first == fingerprint(tmp_path / "two", [b])
    assert first.startswith("sha256:")
    b.write_bytes(_png((1, 1, 2)))
    assert fingerprint(tmp_path / "two", [b]) != first
    renamed = b.rename(b.with_name("b.png"))
    assert fingerprint(tmp_path / "two", [renamed]) != fingerprint(tmp_path / "one", [a])


@pytest.mark.parametrize(
    ("folder", "problem"),
    [
        ("noir?", "'?' (U+003F) is not allowed"),
        ("a,b", "',' (U+002C) is not allowed"),
        ('"quoted"', "'\"' (U+0022) is not allowed"),
    ],
)
def test_class_folder_whose_label_s3_cannot_store_is_refused_with_the_rule(
    tmp_path: Path, folder: str, problem: str
) -> None:
    # Given a data set with one class folder whose name S3 cannot hold as a tag value
    _write(tmp_path, "chat/gris/a.png", _png((0, 0, 0)))
    _write(tmp_path, f"chat/{folder}/b.png", _png((0, 0, 0)))
    # When it is listed, Then the error names the folder, the label and the rule
    with pytest.raises(DataError) as raised:
        list_class_files(tmp_path / "chat")
    message = str(raised.value)
    assert message == (
        f'class folder "{tmp_path / "chat" / folder}" gives the label {folder!r}, which S3 '
        f"cannot store as a tag value: {problem} (allowed: letters, numbers, spaces and "
        "_ . : / = + - @, at most 256 characters); rename the folder"
    )


def test_class_folder_with_a_blank_name_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "gris/a.png", _png((0, 0, 0)))
    _write(tmp_path, "  /b.png", _png((0, 0, 0)))
    with pytest.raises(DataError, match="gives a blank label; rename the folder"):
        list_class_files(tmp_path)


def test_labels_s3_accepts_are_listed_as_they_are(tmp_path: Path) -> None:
    for folder in ("golden retriever", "café", "a=b", "user@host"):
        _write(tmp_path, f"{folder}/x.png", _png((0, 0, 0)))
    assert list_class_files(tmp_path).labels == ("a=b", "café", "golden retriever", "user@host")
