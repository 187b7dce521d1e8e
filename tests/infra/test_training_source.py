"""The SageMaker source dir tarball, packed in Python (no Docker)."""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path

import pytest

from infra.constructs.training_source import (
    SourceDirError,
    source_files,
    write_source_tarball,
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A miniature repository with what the training job needs, and what it must not get."""
    root = tmp_path / "repo"
    files = {
        "training/train.py": "print('train')\n",
        "training/requirements.txt": "numpy==2.4.6\n",
        "training/datasets/animals.py": "NAME = 'animals'\n",
        "functions/classifier/imaging.py": "SIZE = 1\n",
        "functions/classifier/Dockerfile": "FROM scratch\n",
        "training/__pycache__/train.cpython-311.pyc": "compiled",
        "functions/classifier/.mypy_cache/x.json": "{}",
        "training/networks.pyc": "compiled",
        "imgclf/main.py": "not shipped\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _members(tarball: Path) -> dict[str, bytes]:
    with tarfile.open(tarball, "r:gz") as archive:
        return {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
        }


def test_tarball_holds_training_the_function_package_and_root_requirements(
    repo: Path, tmp_path: Path
) -> None:
    # When the source dir is packed
    members = _members(write_source_tarball(repo, tmp_path / "out" / "sourcedir.tar.gz"))
    # Then train.py's sys.path layout is there, with requirements.txt at the root
    assert sorted(members) == [
        "functions/classifier/Dockerfile",
        "functions/classifier/imaging.py",
        "requirements.txt",
        "training/datasets/animals.py",
        "training/requirements.txt",
        "training/train.py",
    ]
    # And the root requirements are training's, which the toolkit installs
    assert members["requirements.txt"] == (repo / "training/requirements.txt").read_bytes()


def test_tarball_is_byte_for_byte_reproducible(repo: Path, tmp_path: Path) -> None:
    # Given the same sources packed twice, with different file times
    first = write_source_tarball(repo, tmp_path / "a.tar.gz").read_bytes()
    (repo / "training/train.py").touch()
    second = write_source_tarball(repo, tmp_path / "b.tar.gz").read_bytes()
    # Then the bytes (and so the asset hash) are equal: only content changes redeploy
    assert first == second
    assert gzip.decompress(first)  # a valid gzip stream


def test_tarball_changes_when_a_source_file_does(repo: Path, tmp_path: Path) -> None:
    first = write_source_tarball(repo, tmp_path / "a.tar.gz").read_bytes()
    (repo / "functions/classifier/imaging.py").write_text("SIZE = 2\n")
    assert write_source_tarball(repo, tmp_path / "b.tar.gz").read_bytes() != first


def test_missing_entry_point_fails_the_synth_by_name(repo: Path) -> None:
    (repo / "training/train.py").unlink()
    with pytest.raises(SourceDirError, match="training/train.py"):
        source_files(repo)


def test_oversized_source_dir_fails_the_synth(repo: Path, tmp_path: Path) -> None:
    # Given a data set accidentally written into training/
    (repo / "training/data.bin").write_bytes(b"\0" * (21 * 1024 * 1024))
    # Then synthesis stops instead of uploading it with every deploy
    with pytest.raises(SourceDirError, match="keep data and models out"):
        write_source_tarball(repo, tmp_path / "x.tar.gz")
