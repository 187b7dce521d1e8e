"""Training data on S3, in Amazon Rekognition Custom Labels' layout: one prefix per label.

`imgclf train --data-dir s3://bucket/prefix/` lists the prefix with the environment's S3
client, checks its layout with training's own rules (training/layout.py) and downloads the
label prefixes into a cache folder under IMGCLF_HOME. The folder is named by the prefix and
by the listed keys and ETags, so a re-run over unchanged data downloads nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from training.layout import (
    MAX_LISTED_NAMES,
    DataLayout,
    label_files,
    layout_problem,
    loose_files_note,
    prefix_label_problem,
    prefix_layout,
)
from training.options import S3_SCHEME

from .errors import CliError
from .output import progress

CACHE_FOLDER = "s3-data"  # under IMGCLF_HOME: <bucket>/<prefix slug>-<listing digest>/
DIGEST_CHARS = 16
SLUG_MAX_CHARS = 60
DOWNLOAD_WORKERS = 8


@dataclass(frozen=True)
class S3Prefix:
    """An S3 "folder": a bucket and a key prefix that is empty or ends with `/`."""

    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class S3Object:
    """One listed object: its key, and the ETag that changes when its bytes do."""

    key: str
    etag: str


@dataclass(frozen=True)
class S3DataSet:
    """A checked prefix: its layout, the objects training reads, and what was left out."""

    location: S3Prefix
    layout: DataLayout
    images: tuple[S3Object, ...]
    unusable: tuple[str, ...]  # keys with an empty path part (`cat//a.jpg`): no file path

    def notes(self) -> list[str]:
        """One line for each kind of key that is not downloaded, never skipped silently."""
        notes = [note] if (note := loose_files_note(self.layout)) else []
        if self.unusable:
            names = sorted(self.unusable)
            more = len(names) - MAX_LISTED_NAMES
            notes.append(
                f"skipped {len(names)} {'key' if len(names) == 1 else 'keys'} under "
                f"{self.location.uri} with an empty path part: "
                + ", ".join(names[:MAX_LISTED_NAMES])
                + (f" and {more} more" if more > 0 else "")
            )
        return notes


def is_s3_uri(value: object) -> bool:
    return isinstance(value, str) and value.startswith(S3_SCHEME)


def parse_s3_uri(uri: str) -> S3Prefix:
    """`s3://bucket/prefix/` (the trailing slash may be left out) as bucket and prefix."""
    bucket, _, prefix = uri.removeprefix(S3_SCHEME).partition("/")
    if not bucket:
        raise CliError(f"{uri} names no bucket; write s3://bucket/prefix/")
    return S3Prefix(bucket, prefix if not prefix or prefix.endswith("/") else prefix + "/")


def list_data_set(s3: Any, location: S3Prefix) -> S3DataSet:
    """List the prefix and check its layout: a one-line CliError when training could not use it."""
    objects = _list_objects(s3, location)
    # The prefix's own folder marker is no key of the data set.
    relative = {
        obj.key[len(location.prefix) :]: obj for obj in objects if obj.key != location.prefix
    }
    unusable = tuple(key for key in relative if "" in key.rstrip("/").split("/"))
    usable = [key for key in relative if key not in unusable]
    layout = prefix_layout(location.uri, usable)
    problem = prefix_label_problem(location.uri, usable) or layout_problem(layout)
    if problem:
        raise CliError(problem)
    images = tuple(relative[key] for key in label_files(usable))
    return S3DataSet(location, layout, images, unusable)


def fetch_data_set(s3: Any, data: S3DataSet, home: Path) -> Path:
    """The data set's cache folder, downloading it first unless an earlier run did."""
    target = cache_folder(home, data)
    if target.is_dir():
        return target
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _download(s3, data, partial)
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _remove_stale_copies(target)
    return target


def cache_folder(home: Path, data: S3DataSet) -> Path:
    """<home>/s3-data/<bucket>/<prefix slug>-<digest of the prefix, keys and ETags>."""
    digest = hashlib.sha256(f"{data.location.bucket}\0{data.location.prefix}".encode())
    for obj in sorted(data.images, key=lambda item: item.key):
        digest.update(f"\0{obj.key}\0{obj.etag}".encode())
    return (
        home
        / CACHE_FOLDER
        / data.location.bucket
        / (f"{_slug(data.location.prefix)}-{digest.hexdigest()[:DIGEST_CHARS]}")
    )


def _list_objects(s3: Any, location: S3Prefix) -> list[S3Object]:
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=location.prefix
        )
        return [
            S3Object(entry["Key"], str(entry.get("ETag", "")))
            for page in pages
            for entry in page.get("Contents", [])
        ]
    except ClientError as error:
        raise CliError(f"cannot list {location.uri}: {_reason(error)}") from None
    except BotoCoreError as error:
        raise CliError(f"cannot list {location.uri}: {error}") from None


def _download(s3: Any, data: S3DataSet, folder: Path) -> None:
    prefix = data.location.prefix

    def fetch(obj: S3Object) -> None:
        path = folder.joinpath(*obj.key[len(prefix) :].split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            s3.download_file(data.location.bucket, obj.key, str(path))
        except ClientError as error:
            uri = f"{S3_SCHEME}{data.location.bucket}/{obj.key}"
            raise CliError(f"cannot download {uri}: {_reason(error)}") from None

    folder.mkdir(parents=True)
    with progress(transient=True) as bar, ThreadPoolExecutor(DOWNLOAD_WORKERS) as pool:
        task = bar.add_task(f"downloading {data.location.uri}", total=len(data.images))
        futures = [pool.submit(fetch, obj) for obj in data.images]
        try:
            for future in as_completed(futures):
                future.result()
                bar.advance(task)
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _remove_stale_copies(target: Path) -> None:
    """Earlier downloads of the same prefix, whose keys or ETags have since changed."""
    slug = target.name[: -DIGEST_CHARS - 1]
    pattern = re.compile(rf"{re.escape(slug)}-[0-9a-f]{{{DIGEST_CHARS}}}")
    for sibling in target.parent.iterdir():
        if sibling != target and sibling.is_dir() and pattern.fullmatch(sibling.name):
            shutil.rmtree(sibling, ignore_errors=True)


def _slug(prefix: str) -> str:
    """The prefix as one readable folder name: `data/my photos/` -> `data_my_photos`."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", prefix.strip("/")).strip("._")
    return slug[:SLUG_MAX_CHARS] or "root"


def _reason(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return f"{details.get('Code', 'error')}: {details.get('Message', error)}"
