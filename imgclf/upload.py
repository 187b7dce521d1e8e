"""Upload files and folders to the images bucket."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from urllib.parse import urlencode

from classifier.contracts import MAX_OBJECT_TAGS, tag_value_problem

from .deployment import Deployment
from .errors import CliError

UPLOAD_THREADS = 8
MAX_KEY_BYTES = 1024  # S3's limit on a key, in UTF-8


@dataclass(frozen=True)
class Uploaded:
    """What an upload wrote to a key: its ETag (unquoted, as events and the results table
    carry it) and, when asked for, the second S3 wrote it (LastModified, UTC,
    `YYYY-MM-DDTHH:MM:SS`; empty when not asked for, which every event follows)."""

    etag: str
    since: str

    def announced(self, etag: object, event_order: str) -> bool:
        """Whether an event or item (its ETag and `event_order`, which starts with the event's
        time) is of this upload: not the key's earlier object, even with the same bytes."""
        return etag == self.etag and self.precedes(event_order)

    def precedes(self, event_order: str) -> bool:
        """Whether the upload came before an event, or in its second (`event_order` starts with
        the event's time)."""
        return event_order[: len(self.since)] >= self.since


@dataclass(frozen=True)
class Upload:
    """A local file and the key it gets in the images bucket."""

    path: Path
    key: str


def collect(
    paths: Iterable[Path | str], prefix: str = "", on_hidden: Callable[[Path], None] | None = None
) -> list[Upload]:
    """Files keep their name; a folder's files keep the folder's name and their path in it.
    A folder's hidden files (a name or folder starting with ".") are left out and passed to
    `on_hidden`; a hidden file named on its own is uploaded."""
    uploads: list[Upload] = []
    hidden: list[Path] = []
    _check_utf8("--prefix", prefix)
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            uploads.append(Upload(path, prefix + path.name))
        elif path.is_dir():
            root = path.resolve().parent
            for file in sorted(path.resolve().rglob("*")):
                relative = file.relative_to(root)
                if not file.is_file():
                    continue
                # Hidden below the folder named: the folder itself may be hidden (~/.photos)
                if any(part.startswith(".") for part in file.relative_to(path.resolve()).parts):
                    hidden.append(file)
                    continue
                uploads.append(Upload(file, prefix + relative.as_posix()))
        elif path.exists():
            raise CliError(f"not a file or folder: {raw}")
        else:
            raise CliError(f"no such file or folder: {raw}")
    if on_hidden is not None:
        for file in hidden:
            on_hidden(file)
    if not uploads:
        raise CliError(
            f"nothing to upload: the folders hold only {len(hidden)} hidden files"
            if hidden
            else "nothing to upload: the folders are empty"
        )
    return _one_file_per_key(uploads)


def _one_file_per_key(uploads: list[Upload]) -> list[Upload]:
    """The same file named twice is uploaded once; two files for one key are refused, since
    the uploads run in parallel and which one the key would keep is chance. A key S3 cannot
    hold is refused before anything is uploaded."""
    by_key: dict[str, Upload] = {}
    for upload in uploads:
        _check_key(upload)
        earlier = by_key.setdefault(upload.key, upload)
        if earlier.path.resolve() != upload.path.resolve():
            raise CliError(
                f"two files would be uploaded as {upload.key!r}: {earlier.path} and "
                f"{upload.path} (upload them separately, or with different --prefix)"
            )
    return list(by_key.values())


def _check_utf8(what: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = text.encode("utf-8", "surrogateescape")
        raise CliError(f"{what} {shown!r} is not UTF-8") from None


def _check_key(upload: Upload) -> None:
    try:
        size = len(upload.key.encode("utf-8"))
    except UnicodeEncodeError:
        raise CliError(
            f"file name is not UTF-8, so it cannot be an S3 key: {bytes(upload.path)!r} "
            "(rename it, or upload the others without it)"
        ) from None
    if size > MAX_KEY_BYTES:
        raise CliError(f"key longer than S3's {MAX_KEY_BYTES} bytes: {upload.key[:80]}…")


def upload_all(
    deployment: Deployment,
    uploads: list[Upload],
    *,
    tags: dict[str, str] | None = None,
    on_done: Callable[[Upload], None] | None = None,
    threads: int = UPLOAD_THREADS,
    write_times: bool = False,
) -> dict[str, Uploaded]:
    """Put every file (with the given object tags) into the images bucket; returns what each
    key got. With `write_times` (a wait that must tell this upload from the same bytes sent
    before), a HEAD after each PUT reads S3's time of the write."""
    s3 = deployment.client("s3")
    bucket = deployment.images_bucket
    tagging = urlencode(tags) if tags else None

    def put(upload: Upload) -> tuple[Upload, Uploaded]:
        extra: dict[str, str] = {}
        content_type = mimetypes.guess_type(upload.path.name)[0]
        if content_type:
            extra["ContentType"] = content_type
        if tagging:
            extra["Tagging"] = tagging
        with upload.path.open("rb") as body:
            response = s3.put_object(Bucket=bucket, Key=upload.key, Body=body, **extra)
        etag = str(response.get("ETag", "")).strip('"')
        if not write_times:
            return upload, Uploaded(etag, "")
        written = s3.head_object(Bucket=bucket, Key=upload.key)["LastModified"]
        return upload, Uploaded(etag, f"{written.astimezone(UTC):%Y-%m-%dT%H:%M:%S}")

    uploaded: dict[str, Uploaded] = {}
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for done, result in pool.map(put, uploads):
            uploaded[done.key] = result
            if on_done is not None:
                on_done(done)
    return uploaded


TAG_KEY_MAX_LENGTH = 128  # S3: a tag key is 1 to 128 characters, as a value's characters


def parse_tags(pairs: Iterable[str]) -> dict[str, str]:
    """`--tag NAME=VALUE`s as S3 would take them on PutObject, checked before any upload (an
    object S3 refuses for its tags is not stored)."""
    tags: dict[str, str] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise CliError(f"--tag {pair!r} is not NAME=VALUE")
        _check_utf8("--tag", pair)
        if name in tags:
            raise CliError(f"--tag {name!r} is given twice (an object has one value a tag)")
        problem = tag_value_problem(name) or tag_value_problem(value)
        if problem is None and len(name.encode("utf-16-le")) // 2 > TAG_KEY_MAX_LENGTH:
            problem = f"its name is over {TAG_KEY_MAX_LENGTH} characters"
        if problem is None and name.lower().startswith("aws:"):
            problem = "names starting with aws: are AWS's"
        if problem is not None:
            raise CliError(f"--tag {pair!r}: S3 would refuse it: {problem}")
        tags[name] = value
    if len(tags) > MAX_OBJECT_TAGS:
        raise CliError(f"{len(tags)} --tags: S3 allows at most {MAX_OBJECT_TAGS} on an object")
    return tags
