"""`imgclf model generic`: the generic labeller (Lite0 int8 and the label hierarchy), no
training, built once per code version and uploaded like any model."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from classifier.artifact_files import pack_artifact, read_metadata
from infra.local import imgclf_home

from .day0 import evaluation_lines
from .deployment import Deployment, resolve
from .errors import CliError
from .models import promote, upload_artifact
from .output import progress, stdout
from .trainer import check_version_option

VERSION_FILE = "VERSION"
CACHE_PREFIX = "generic-"


@dataclass(frozen=True)
class GenericModel:
    """A packed generic artifact on disk."""

    version: str
    tarball: Path
    model_dir: Path
    reused: bool


def build_packed(target: Path, *, version: str) -> GenericModel:
    """Build the generic model into target/model and pack target/model.tar.gz."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        from training.backbones.efficientnet_lite import WeightsUnavailableError
        from training.generic import GenericModelError, build_generic
    except ImportError as error:
        raise CliError(f"the generic model needs the training extra here: {error}") from None
    try:
        with progress(transient=True) as bar:
            bar.add_task(f"building generic model {version}", total=None)
            build_generic(target / "model", version=version)
    except (GenericModelError, WeightsUnavailableError) as error:
        raise CliError(str(error)) from None
    tarball = pack_artifact(target / "model", target / "model.tar.gz")
    (target / VERSION_FILE).write_text(version + "\n")
    return GenericModel(version, tarball, target / "model", reused=False)


def cached_generic(cache_root: Path, sources: str) -> GenericModel:
    """The generic model from the cache, built once per code version."""
    key = hashlib.sha256(json.dumps({"generic": sources}).encode()).hexdigest()[:16]
    target = cache_root / f"{CACHE_PREFIX}{key}"
    version_file = target / VERSION_FILE
    if (target / "model.tar.gz").is_file() and version_file.is_file():
        return GenericModel(
            version_file.read_text().strip(), target / "model.tar.gz", target / "model", True
        )
    return build_packed(target, version=f"generic-{key[:10]}")


def publish(deployment: Deployment, model: GenericModel, *, force: bool = False) -> str:
    """Upload a generic model and make it live (the champion check decides, unless forced)."""
    upload_artifact(deployment, model.tarball, model.version)
    promote(deployment, model.version, force=force)
    return model.version


def generic_command(args: argparse.Namespace) -> int:
    """Build (or reuse with --cached) the generic model, upload it, and promote it if asked."""
    check_version_option(args.version)
    deployment = resolve(args.env)
    if args.version:
        model = build_packed(imgclf_home() / "models" / args.version, version=args.version)
    else:
        from .demo import source_fingerprint

        model = cached_generic(imgclf_home() / "cache", source_fingerprint())
    metadata = read_metadata(model.model_dir)
    uri = upload_artifact(deployment, model.tarball, model.version)
    stdout.print(f"generic model {model.version} uploaded to {uri}" + (" (cached)" * model.reused))
    stdout.print(evaluation_lines(metadata.metrics))
    gate = metadata.gate
    stdout.print(
        "quality gate "
        + ("passed" if gate.get("passed") else "FAILED: " + "; ".join(gate["reasons"]))
    )
    if args.promote:
        promote(deployment, model.version, force=args.force)
        stdout.print(f"model {model.version} is live in {deployment.env}")
    return 0
