"""The SageMaker script-mode source dir as an S3 asset, packed in Python: no Docker.

The training toolkit downloads `sagemaker_submit_directory` (a gzipped tar), extracts it to
/opt/ml/code, installs its root `requirements.txt` and runs `sagemaker_program`. train.py
puts its parent and `<parent>/functions` on sys.path, so the tarball holds `training/`,
`functions/classifier/` and a root `requirements.txt` equal to `training/requirements.txt`.
The tarball is byte-for-byte reproducible (sorted, zeroed times and owners), so its asset hash
only changes when a source file does.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, BundlingOutput, DockerImage, ILocalBundling
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

SOURCE_DIRECTORIES = ("training", "functions/classifier")
TRAINING_PROGRAM = "training/train.py"
TRAINING_REQUIREMENTS = "training/requirements.txt"
ARCHIVE_NAME = "sourcedir.tar.gz"
EXCLUDED_DIRECTORIES = frozenset(
    {"__pycache__", ".mypy_cache", ".pytest_cache", ".ipynb_checkpoints"}
)
EXCLUDED_SUFFIXES = frozenset({".pyc", ".pyo"})
# A source dir this large means data or a model slipped into training/: fail the synth loudly.
MAX_SOURCE_BYTES = 20 * 1024 * 1024


class SourceDirError(ValueError):
    """The training source dir cannot be packed."""


def source_files(repo_root: Path) -> list[tuple[str, Path]]:
    """(name in the tarball, file on disk) for everything the training job needs, sorted."""
    for required in (TRAINING_PROGRAM, TRAINING_REQUIREMENTS):
        if not (repo_root / required).is_file():
            raise SourceDirError(f"the SageMaker source dir needs {required}, which is missing")
    files = [("requirements.txt", repo_root / TRAINING_REQUIREMENTS)]
    for directory in SOURCE_DIRECTORIES:
        for path in sorted((repo_root / directory).rglob("*")):
            relative = path.relative_to(repo_root)
            if not path.is_file() or _excluded(relative):
                continue
            files.append((relative.as_posix(), path))
    return sorted(files)


def _excluded(relative: Path) -> bool:
    parts = relative.parts
    hidden = any(part.startswith(".") for part in parts)
    return hidden or bool(EXCLUDED_DIRECTORIES & set(parts)) or relative.suffix in EXCLUDED_SUFFIXES


def write_source_tarball(repo_root: Path, target: Path) -> Path:
    """Write the reproducible sourcedir.tar.gz that SageMaker's toolkit expects."""
    files = source_files(repo_root)
    total = sum(path.stat().st_size for _, path in files)
    if total > MAX_SOURCE_BYTES:
        raise SourceDirError(
            f"the SageMaker source dir is {total} bytes (limit {MAX_SOURCE_BYTES}): "
            "keep data and models out of training/ and functions/classifier/"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        target.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
    ):
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for name, path in files:
                data = path.read_bytes()
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                info.mtime = 0
                archive.addfile(info, io.BytesIO(data))
    return target


@jsii.implements(ILocalBundling)
class SourceDirBundler:
    """Bundles the source dir in this process, so CDK never starts a container."""

    def __init__(self, repo_root: Path) -> None:
        self._repo_root = repo_root

    def try_bundle(self, output_dir: str, *_args: Any, **_options: Any) -> bool:
        write_source_tarball(self._repo_root, Path(output_dir) / ARCHIVE_NAME)
        return True


def training_source_asset(scope: Construct, id_: str, *, repo_root: Path) -> s3_assets.Asset:
    """The source dir tarball as a file asset; its URL is `sagemaker_submit_directory`."""
    return s3_assets.Asset(
        scope,
        id_,
        path=str(repo_root / "training"),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Never pulled: local bundling always succeeds; the image is a required field.
            image=DockerImage.from_registry("imgclf-local-bundling-only"),
            local=SourceDirBundler(repo_root),
            output_type=BundlingOutput.ARCHIVED,
        ),
    )
