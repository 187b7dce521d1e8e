"""Data layouts, a folder or S3 prefix per label: each bad layout is one line that says what
to change, for a local folder and an S3 prefix alike (training/layout.py)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from PIL import Image

from classifier.imaging import InputSpec
from training.data import DataError, check_layout, folder_layout, list_class_files
from training.layout import (
    MAX_LISTED_NAMES,
    MIN_IMAGES_PER_LABEL,
    DataLayout,
    label_files,
    layout_problem,
    loose_files_note,
    prefix_label_problem,
    prefix_layout,
)
from training.prepare import prepare_data
from training.train_config import ConfigError, ResolvedConfig, TrainConfig, parse_args

ROOT = "s3://b/p/"


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (120, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def _folder(root: Path, counts: dict[str, int], loose: tuple[str, ...] = ()) -> Path:
    root.mkdir(parents=True)
    for label, count in counts.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for n in range(count):
            (root / label / f"{n}.png").write_bytes(_png())
    for name in loose:
        (root / name).write_bytes(_png())
    return root


def test_the_minimum_is_five_images_a_label_and_two_labels() -> None:
    assert MIN_IMAGES_PER_LABEL == 5
    assert layout_problem(DataLayout(ROOT, "prefix", {"cat": 5, "dog": 5})) is None


def test_no_label_prefixes_says_where_the_images_go() -> None:
    assert layout_problem(DataLayout(ROOT, "prefix", {})) == (
        "s3://b/p/ has no label prefixes; put each label's images under s3://b/p/<label>/"
    )
    assert layout_problem(DataLayout("photos", "folder", {})) == (
        "photos has no label folders; put each label's images under photos/<label>/"
    )


def test_one_label_is_not_a_classifier() -> None:
    assert layout_problem(DataLayout(ROOT, "prefix", {"cat": 40})) == (
        "s3://b/p/ needs at least 2 labels, found 1: cat"
    )


def test_a_label_named_unknown_is_refused() -> None:
    assert layout_problem(DataLayout("photos", "folder", {"Unknown": 9, "tool": 9})) == (
        "photos/Unknown: a label cannot be 'unknown', what the model says of anything that is "
        "none of its labels; rename the folder"
    )


def test_two_labels_a_search_takes_for_one_are_refused() -> None:
    for first, second in (("Tree", "tree"), ("musical instrument", "Musical_Instrument")):
        layout = DataLayout(ROOT, "prefix", {first: 9, second: 9, "tool": 9})
        assert layout_problem(layout) == (
            f"s3://b/p/{min(first, second)} and s3://b/p/{max(first, second)} are one label to "
            "a search (any case); merge the prefixes or rename one"
        )
    # Plurals stay apart: glass and glasses are two things
    assert layout_problem(DataLayout(ROOT, "prefix", {"glass": 9, "glasses": 9})) is None


def test_a_label_with_too_few_images_lists_every_labels_count_sorted() -> None:
    layout = DataLayout(ROOT, "prefix", {"dog": 7, "cow": 2, "cat": 3})
    assert layout_problem(layout) == (
        "s3://b/p/: every label needs at least 5 images: cat 3, cow 2, dog 7"
    )
    # And counted after decoding, the unreadable files are named as the reason
    readable = DataLayout("photos", "folder", {"cat": 4, "dog": 9}, unreadable=1)
    assert layout_problem(readable) == (
        "photos: every label needs at least 5 images: cat 4, dog 9 "
        "(after skipping 1 unreadable file)"
    )


def test_files_directly_under_the_root_are_named_as_skipped() -> None:
    one = DataLayout(ROOT, "prefix", {"cat": 5, "dog": 5}, loose=("readme.txt",))
    assert loose_files_note(one) == (
        "skipped 1 file directly under s3://b/p/ (not in a label prefix): readme.txt"
    )
    many = tuple(f"{n:02}.jpg" for n in range(MAX_LISTED_NAMES + 3))
    note = loose_files_note(DataLayout("photos", "folder", {}, loose=many))
    assert note is not None and note.startswith("skipped 23 files directly under photos (not ")
    assert note.endswith("19.jpg and 3 more") and "\n" not in note
    assert loose_files_note(DataLayout(ROOT, "prefix", {"cat": 5})) is None


def test_an_s3_listing_groups_keys_by_their_first_prefix() -> None:
    keys = [
        "cat/1.jpg",
        "cat/indoors/2.jpg",  # deeper keys belong to their label prefix, as folders do
        "gatto/3.jpg",  # Animals-10's Italian names become English, as for folders
        "dog/",  # a console-made folder marker: a label with no images yet
        "dog/.DS_Store",
        ".cache/4.jpg",
        "readme.txt",
    ]
    layout = prefix_layout(ROOT, keys)
    assert layout.counts == {"cat": 3, "dog": 0}
    assert layout.loose == ("readme.txt",)
    assert layout_problem(layout) == (
        "s3://b/p/: every label needs at least 5 images: cat 3, dog 0"
    )
    # And the keys downloaded are the label files only
    assert label_files(keys) == ["cat/1.jpg", "cat/indoors/2.jpg", "gatto/3.jpg"]


def test_a_label_prefix_s3_cannot_store_as_a_tag_is_refused_before_download() -> None:
    problem = prefix_label_problem(ROOT, ["cat/1.jpg", "a,b/2.jpg"])
    assert problem is not None
    assert problem.startswith("class prefix \"s3://b/p/a,b/\" gives the label 'a,b', which S3")
    assert problem.endswith("; rename the prefix")
    assert prefix_label_problem(ROOT, ["cat/1.jpg", "dog/2.jpg"]) is None


def test_a_local_folder_answers_to_the_same_rules(tmp_path: Path) -> None:
    photos = _folder(tmp_path / "photos", {"dog": 7, "cat": 3}, loose=("stray.png",))
    layout = folder_layout(list_class_files(photos), photos)
    assert layout.counts == {"cat": 3, "dog": 7} and layout.loose == ("stray.png",)
    with pytest.raises(DataError) as raised:
        check_layout(layout)
    assert str(raised.value) == (f"{photos}: every label needs at least 5 images: cat 3, dog 7")
    # And no label folder at all is the same one line as for S3
    with pytest.raises(DataError) as raised:
        list_class_files(_folder(tmp_path / "flat", {}, loose=("a.png",)))
    assert str(raised.value) == (
        f"{tmp_path / 'flat'} has no label folders; put each label's images under "
        f"{tmp_path / 'flat'}/<label>/"
    )


def _config(data_dir: Path, dataset: str = "folder") -> ResolvedConfig:
    out = data_dir.parent / "out"
    return TrainConfig(data_dir=data_dir, model_dir=out, output_dir=out, dataset=dataset).resolved()


def test_training_refuses_a_bad_folder_before_decoding_it(tmp_path: Path) -> None:
    # Given a data set of one label (a SageMaker channel, or a folder given by hand)
    one = _folder(tmp_path / "one", {"cat": 9})
    # When training prepares it, Then it stops with the one line
    with pytest.raises(DataError, match=f"^{one} needs at least 2 labels, found 1: cat$"):
        prepare_data(_config(one), InputSpec(height=8, width=8))


def test_training_counts_readable_images_and_names_loose_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given five files per label, two of the cat's unreadable, and a file outside any label
    photos = _folder(tmp_path / "photos", {"cat": 5, "dog": 5}, loose=("stray.png",))
    (photos / "cat" / "0.png").write_bytes(b"not an image")
    (photos / "cat" / "1.png").write_bytes(b"")
    caplog.set_level(logging.WARNING, logger="training")

    with pytest.raises(DataError) as raised:
        prepare_data(_config(photos), InputSpec(height=8, width=8))

    # Then the count is of images, with the skipped files as the reason
    assert str(raised.value) == (
        f"{photos}: every label needs at least 5 images: cat 3, dog 5 "
        "(after skipping 2 unreadable files)"
    )
    # And each unreadable file and the loose one were reported on the way
    messages = [record.getMessage() for record in caplog.records]
    assert f"skipped 1 file directly under {photos} (not in a label folder): stray.png" in (
        messages
    )
    assert sum(message.startswith(f"skipped {photos / 'cat'}") for message in messages) == 2


def test_training_reads_an_s3_data_dir_only_through_its_channel(tmp_path: Path) -> None:
    # An s3:// --data-dir by hand would otherwise fall back to another data set silently
    with pytest.raises(ConfigError, match=r"^--data-dir s3://b/p/: training reads a local"):
        parse_args(["--data-dir", "s3://b/p/"], {})
    # And in a SageMaker job the channel is the data
    config = parse_args(["--data-dir", "s3://b/p/"], {"SM_CHANNEL_TRAIN": str(tmp_path)})
    assert (config.data_dir, config.dataset) == (tmp_path, "folder")


def test_an_eval_folder_names_its_label_in_any_case_spacing_or_number(tmp_path: Path) -> None:
    # `--labels "dam,monument,solar thermal collector" --eval-dir ev` with folders dams,
    # Monument and solar_thermal_collector: "ev has classes the model does not know"
    labels = ("dam", "monument", "solar thermal collector")
    photos = _folder(
        tmp_path / "ev", {"dams": 2, "Monument": 1, "solar_thermal_collector": 1, "dam": 1}
    )
    index = list_class_files(photos, labels)
    assert index.labels == labels
    assert sorted(index.label_ids) == [0, 0, 0, 1, 2]
    # A folder that names no label is still an error
    with pytest.raises(DataError, match="classes the model does not know: tree"):
        list_class_files(_folder(tmp_path / "other", {"trees": 1, "dam": 1}), labels)
