"""Models built on this machine and packed for upload (day-0, generic): where they are
cached, how they are packed, and what uploading one prints."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifier.artifact_files import pack_artifact, read_metadata
from gate.recorded import recorded_gate

from .deployment import Deployment
from .errors import CliError
from .models import promote, upload_artifact
from .output import NATIVE_LOG, TRAINING_LOGGER, log_to_file, native_stderr_to, progress, stdout

VERSION_FILE = "VERSION"  # beside a cached model.tar.gz: `local up` uploads it again


@contextmanager
def building(target: Path, what: str) -> Iterator[None]:
    """A model build's spinner, with the native libraries' lines (TensorFlow, the converter,
    LiteRT) and training's own log lines sent to target/native.log rather than the terminal:
    the command reports what matters (the gate) itself."""
    with native_stderr_to(target / NATIVE_LOG), progress(transient=True) as bar:
        bar.add_task(what, total=None)
        with log_to_file(TRAINING_LOGGER, target / NATIVE_LOG):
            yield


def build_quietly(
    target: Path, version: str, what: str, build: Callable[[Path], None]
) -> PackedModel:
    """Build a model that needs the training extra into target/model, under `building`, and
    pack it. `build` imports TensorFlow's side inside (its start-up lines go to the log too)
    and turns its own errors into CliError; no training extra here is one line naming `what`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with building(target, f"building {what} {version}"):
        try:
            build(target / "model")
        except ImportError as error:
            raise CliError(f"the {what} needs the training extra here: {error}") from None
    return pack(target, version)


@dataclass(frozen=True)
class PackedModel:
    """A packed artifact on disk: target/model (the directory) and target/model.tar.gz."""

    version: str
    tarball: Path
    model_dir: Path
    reused: bool


def pack(target: Path, version: str) -> PackedModel:
    """Pack target/model into target/model.tar.gz and record its version beside it."""
    tarball = pack_artifact(target / "model", target / "model.tar.gz")
    (target / VERSION_FILE).write_text(version + "\n")
    return PackedModel(version, tarball, target / "model", reused=False)


def cached(
    cache_root: Path, kind: str, sources: str, build: Callable[[Path, str], PackedModel]
) -> PackedModel:
    """The `kind` model from the cache, built once per code version (`sources`) by
    `build(target, version)`."""
    key = hashlib.sha256(json.dumps({kind: sources}).encode()).hexdigest()[:16]
    target = cache_root / f"{kind}-{key}"
    version_file = target / VERSION_FILE
    if (target / "model.tar.gz").is_file() and version_file.is_file():
        return PackedModel(
            version_file.read_text().strip(), target / "model.tar.gz", target / "model", True
        )
    return build(target, f"{kind}-{key[:10]}")


def upload_and_report(
    deployment: Deployment, model: PackedModel, what: str, *, promote_it: bool, force: bool
) -> None:
    """Upload a packed model, print its evaluation and gate, and promote it if asked."""
    metadata = read_metadata(model.model_dir)
    upload = upload_artifact(deployment, model.tarball, model.version)
    stdout.print(f"{what} {model.version} {upload.outcome()}" + (" (cached)" * model.reused))
    stdout.print(evaluation_lines(metadata.metrics))
    gate = recorded_gate(metadata.to_dict())
    if gate is None or gate.passed:
        stdout.print("quality gate " + ("passed" if gate else "not recorded"))
    else:
        stdout.print(f"quality gate FAILED: {'; '.join(gate.reasons)}")
    if promote_it:
        promote(deployment, model.version, force=force)  # every check inside
        stdout.print(f"model {model.version} is live in {deployment.env}")


def evaluation_lines(metrics: dict[str, Any]) -> str:
    """One line per evaluation set: int8 accuracy, float accuracy and size."""
    lines = []
    for name, entry in (metrics.get("evaluations") or {}).items():
        float_accuracy = entry.get("float_accuracy")
        float_text = f", float {float_accuracy:.1%}" if isinstance(float_accuracy, float) else ""
        per_class = entry.get("per_class") or {}
        absent = [label for label, row in per_class.items() if not row.get("support")]
        unseen = f"; no photo of {', '.join(absent)}" if absent else ""
        lines.append(f"  {name}: {entry['accuracy']:.1%} of {entry['count']}{float_text}{unseen}")
    return "\n".join(lines) or "  (no evaluation sets)"
