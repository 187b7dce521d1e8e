"""`imgclf train --data-dir s3://bucket/prefix/` on moto: the prefix is listed with the
environment's S3 client, its layout checked (one prefix per label, as Amazon Rekognition Custom
Labels reads it), and the label prefixes downloaded once into a cache folder."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from imgclf.deployment import Deployment
from imgclf.errors import CliError
from imgclf.s3_data import fetch_data_set, list_data_set, parse_s3_uri
from imgclf.trainer import training_data
from training.data import list_class_files

REGION = "us-east-1"
BUCKET = "photos"


def _png(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (shade, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


class CountingS3:
    """The real (moto) client, counting the objects it downloads."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.downloads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def download_file(self, bucket: str, key: str, filename: str) -> None:
        self.downloads += 1
        self.client.download_file(bucket, key, filename)


@pytest.fixture
def s3(fake_aws: str) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


def _put(s3: Any, keys: dict[str, bytes]) -> None:
    for key, body in keys.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def _labelled(prefix: str, counts: dict[str, int]) -> dict[str, bytes]:
    return {
        f"{prefix}{label}/{n}.png": _png(n * 20) for label, n_images in counts.items()
        for n in range(n_images)
    }  # fmt: skip


def test_a_prefix_per_label_is_downloaded_once_into_a_cache_folder(s3: Any, tmp_path: Path) -> None:
    # Given Custom Labels' layout, a file outside any label, hidden and marker keys
    _put(s3, _labelled("sets/pets/", {"cat": 5, "dog": 6}))
    _put(s3, {"sets/pets/readme.txt": b"hi", "sets/pets/dog/.DS_Store": b"", "sets/pets/": b""})
    counting = CountingS3(s3)
    location = parse_s3_uri("s3://photos/sets/pets")  # the trailing slash may be left out

    # When it is listed and fetched
    data = list_data_set(counting, location)
    folder = fetch_data_set(counting, data, tmp_path)

    # Then the label prefixes are a folder-per-class set training reads as it is
    index = list_class_files(folder)
    assert index.labels == ("cat", "dog")
    assert len(index.files) == 11 and counting.downloads == 11
    assert folder.parent == tmp_path / "s3-data" / BUCKET and folder.name.startswith("sets_pets-")
    # And the file no label owns is named, not downloaded
    assert data.notes() == [
        "skipped 1 file directly under s3://photos/sets/pets/ (not in a label prefix): readme.txt"
    ]
    assert not (folder / "readme.txt").exists()

    # When it runs again over the same keys and ETags, Then nothing is downloaded
    again = fetch_data_set(counting, list_data_set(counting, location), tmp_path)
    assert again == folder and counting.downloads == 11

    # When an image changes, Then the new listing downloads afresh and the stale copy goes
    _put(s3, {"sets/pets/cat/0.png": _png(255)})
    changed = fetch_data_set(counting, list_data_set(counting, location), tmp_path)
    assert changed != folder and not folder.exists()
    assert (changed / "cat" / "0.png").read_bytes() == _png(255)
    assert counting.downloads == 22


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            {"p/a.png": b"", "p/b.png": b""},
            "s3://photos/p/ has no label prefixes; put each label's images under "
            "s3://photos/p/<label>/",
        ),
        (_labelled("p/", {"cat": 8}), "s3://photos/p/ needs at least 2 labels, found 1: cat"),
        (
            _labelled("p/", {"dog": 7, "cat": 3, "cow": 2}),
            "s3://photos/p/: every label needs at least 5 images: cat 3, cow 2, dog 7",
        ),
    ],
)
def test_a_bad_layout_is_one_line_before_anything_is_downloaded(
    s3: Any, tmp_path: Path, keys: dict[str, bytes], message: str
) -> None:
    _put(s3, keys)
    with pytest.raises(CliError) as raised:
        list_data_set(s3, parse_s3_uri("s3://photos/p/"))
    assert str(raised.value) == message


def test_keys_that_name_no_file_path_are_named_and_left_out(s3: Any, tmp_path: Path) -> None:
    # Given a key with an empty part, which would land on another key's file
    _put(s3, _labelled("p/", {"cat": 5, "dog": 5}))
    _put(s3, {"p/cat//0.png": _png(9)})

    data = list_data_set(s3, parse_s3_uri("s3://photos/p/"))
    folder = fetch_data_set(s3, data, tmp_path)

    assert data.notes() == [
        "skipped 1 key under s3://photos/p/ with an empty path part: cat//0.png"
    ]
    assert (folder / "cat" / "0.png").read_bytes() == _png(0)


def test_a_missing_bucket_is_one_line(s3: Any) -> None:
    with pytest.raises(CliError, match=r"^cannot list s3://nowhere/p/: NoSuchBucket: "):
        list_data_set(s3, parse_s3_uri("s3://nowhere/p/"))


def test_imgclf_train_reads_the_prefix_with_the_environments_client(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an environment (here moto) whose S3 holds the data set
    monkeypatch.setenv("IMGCLF_HOME", str(tmp_path))
    _put(s3, _labelled("data/pets/", {"cat": 5, "dog": 5}))
    deployment = Deployment(env="test", outputs={}, region=REGION)

    # When `imgclf train` resolves its data dir
    folder, shown = training_data(deployment, "s3://photos/data/pets/", None)

    # Then training gets the local copy, and messages show the prefix
    assert folder is not None and folder.is_relative_to(tmp_path / "s3-data")
    assert list_class_files(folder).labels == ("cat", "dog")
    assert shown == "s3://photos/data/pets/"
