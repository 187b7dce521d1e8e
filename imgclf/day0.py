"""`imgclf model day0`: the ImageNet classifier mapped onto your labels, with no training."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifier.artifact import pack_artifact, read_metadata
from classifier.contracts import new_model_version
from infra.local import imgclf_home

from .deployment import resolve
from .errors import CliError
from .models import promote, upload_artifact
from .output import progress, stdout
from .trainer import check_version_option

VERSION_FILE = "VERSION"


@dataclass(frozen=True)
class Day0Model:
    """A packed day-0 artifact on disk."""

    version: str
    tarball: Path
    model_dir: Path
    reused: bool


def build_packed(
    target: Path, *, version: str, mapping_file: Path | None, eval_dir: Path | None
) -> Day0Model:
    """Build the day-0 model into target/model and pack target/model.tar.gz (with a spinner)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        from training.backbones.efficientnet_lite import WeightsUnavailableError
        from training.day0 import Day0Error, build_day0
        from training.imagenet import MappingError, read_mapping
    except ImportError as error:
        raise CliError(f"the day-0 model needs the training extra here: {error}") from None
    try:
        mapping = read_mapping(mapping_file) if mapping_file else None
        with progress(transient=True) as bar:
            bar.add_task(f"building day-0 model {version}", total=None)
            build_day0(target / "model", version=version, mapping=mapping, eval_dir=eval_dir)
    except (MappingError, Day0Error, WeightsUnavailableError) as error:
        raise CliError(str(error)) from None
    tarball = pack_artifact(target / "model", target / "model.tar.gz")
    (target / VERSION_FILE).write_text(version + "\n")
    return Day0Model(version, tarball, target / "model", reused=False)


def cached_day0(cache_root: Path, sources: str) -> Day0Model:
    """The built-in Animals-10 day-0 model from the cache, built once per code version."""
    key = hashlib.sha256(json.dumps({"day0": sources}).encode()).hexdigest()[:16]
    target = cache_root / f"day0-{key}"
    version_file = target / VERSION_FILE
    if (target / "model.tar.gz").is_file() and version_file.is_file():
        return Day0Model(
            version_file.read_text().strip(), target / "model.tar.gz", target / "model", True
        )
    return build_packed(target, version=f"day0-{key[:10]}", mapping_file=None, eval_dir=None)


def day0_command(args: argparse.Namespace) -> int:
    check_version_option(args.version)
    deployment = resolve(args.env)
    for path in (args.mapping, args.eval_dir):
        if path is not None and not path.exists():
            raise CliError(f"no such file or folder: {path}")
    version = args.version or new_model_version("day0-")
    model = build_packed(
        imgclf_home() / "models" / version,
        version=version,
        mapping_file=args.mapping,
        eval_dir=args.eval_dir,
    )
    metadata = read_metadata(model.model_dir)
    uri = upload_artifact(deployment, model.tarball, version)
    stdout.print(f"day-0 model {version} uploaded to {uri}")
    stdout.print(evaluation_lines(metadata.metrics))
    gate = metadata.gate
    stdout.print(
        "quality gate "
        + ("passed" if gate.get("passed") else "FAILED: " + "; ".join(gate["reasons"]))
    )
    if args.promote:
        promote(deployment, version, force=args.force)  # champion check inside
        stdout.print(f"model {version} is live in {deployment.env}")
    return 0


def evaluation_lines(metrics: dict[str, Any]) -> str:
    """One line per evaluation set: int8 accuracy, float accuracy and size."""
    lines = []
    for name, entry in (metrics.get("evaluations") or {}).items():
        float_accuracy = entry.get("float_accuracy")
        float_text = f", float {float_accuracy:.1%}" if isinstance(float_accuracy, float) else ""
        lines.append(f"  {name}: {entry['accuracy']:.1%} of {entry['count']}{float_text}")
    return "\n".join(lines) or "  (no evaluation sets)"
