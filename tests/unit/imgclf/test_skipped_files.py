"""`imgclf train` lists the files training could not read, one line each with its reason,
never silently: from model.json's `dataset.skipped_unreadable` and `skipped_files`."""

from __future__ import annotations

from pathlib import Path

from imgclf.trainer import skipped_file_lines


def test_each_unreadable_file_is_a_line_with_its_reason_under_the_name_given() -> None:
    # Given model.json of a run on an S3 prefix, downloaded into a cache folder
    cache = Path("/home/u/.imgclf/s3-data/photos/pets-0123456789abcdef")
    dataset = {
        "skipped_unreadable": 2,
        "skipped_files": [
            {"file": str(cache / "cat" / "notes.txt"), "reason": "not an image"},
            {"file": "/elsewhere/heldout/dog/x.jpg", "reason": "cannot read file: empty"},
        ],
    }

    lines = skipped_file_lines(dataset, cache, "s3://photos/pets/")

    # Then the data set's file is shown by its S3 name, the other as it is
    assert lines == [
        "skipped 2 unreadable files:",
        "  s3://photos/pets/cat/notes.txt: not an image",
        "  /elsewhere/heldout/dog/x.jpg: cannot read file: empty",
    ]


def test_more_than_twenty_are_counted_not_listed() -> None:
    listed = [{"file": f"photos/cat/{n}.jpg", "reason": "not an image"} for n in range(20)]
    dataset = {"skipped_unreadable": 57, "skipped_files": listed}

    lines = skipped_file_lines(dataset, Path("photos"), "photos")

    assert lines[0] == "skipped 57 unreadable files:"
    assert lines[1] == "  photos/cat/0.jpg: not an image"
    assert len(lines) == 22 and lines[-1] == "  and 37 more"


def test_nothing_skipped_prints_nothing() -> None:
    assert skipped_file_lines({"skipped_unreadable": 0, "skipped_files": []}, None, "") == []
    assert skipped_file_lines({}, None, "") == []
