"""Quality gate of the training state machine: read model.json from a model.tar.gz.

Training decides the verdict (int8 accuracy, float-vs-int8 drop) and records it in
model.json's `gate`; this function only reads it back out of the artifact, checks that the
artifact is the version the execution asked for, and returns a small summary the state
machine's Choice branches on. Standard library and boto3 only (the Lambda runtime's), so the
code ships as a plain zip.

Event: {"artifact_uri": "s3://<bucket>/<key>/model.tar.gz", "expected_version": "<version>"}
Result: {"passed": bool, "reason": str, "version": str, "gate": {...}, "metrics": {...},
         "bucket": str, "key": str}
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import PurePosixPath
from typing import IO, Any
from urllib.parse import urlparse

# classifier.contracts.ARTIFACT_METADATA_FILE; tests/infra/test_gate.py keeps the two equal.
METADATA_FILE = "model.json"
MAX_METADATA_BYTES = 4 * 1024 * 1024


class GateError(ValueError):
    """The artifact cannot be read: the execution fails rather than promoting blindly."""


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key)."""
    parsed = urlparse(uri)
    key = parsed.path.lstrip("/")
    if parsed.scheme != "s3" or not parsed.netloc or not key:
        raise GateError(f"artifact URI {uri!r} is not s3://bucket/key")
    return parsed.netloc, key


def read_metadata(stream: IO[bytes]) -> dict[str, Any]:
    """model.json from a gzipped tar stream, read member by member (no temporary file)."""
    try:
        with tarfile.open(fileobj=stream, mode="r|gz") as archive:
            for member in archive:
                if member.isfile() and PurePosixPath(member.name).name == METADATA_FILE:
                    if member.size > MAX_METADATA_BYTES:
                        raise GateError(f"{METADATA_FILE} is {member.size} bytes, too large")
                    source = archive.extractfile(member)
                    if source is None:
                        break
                    data = json.loads(source.read())
                    if not isinstance(data, dict):
                        raise GateError(f"{METADATA_FILE} is not a JSON object")
                    return data
    except (tarfile.TarError, EOFError, OSError, json.JSONDecodeError) as error:
        raise GateError(f"artifact is not a readable model.tar.gz: {error}") from None
    raise GateError(f"artifact has no {METADATA_FILE}")


def verdict(metadata: dict[str, Any], *, expected_version: str) -> dict[str, Any]:
    """Pass only if training recorded a passing gate for the version this execution trained."""
    gate = metadata.get("gate")
    gate = gate if isinstance(gate, dict) else {}
    version = str(metadata.get("version", ""))
    metrics = metadata.get("metrics")
    # Scalars only: the per-class report would bloat the execution history for no decision.
    scalar_metrics = {
        name: value
        for name, value in (metrics.items() if isinstance(metrics, dict) else [])
        if isinstance(value, str | int | float | bool)
    }
    if version != expected_version:
        passed, reason = False, f"artifact is version {version!r}, expected {expected_version!r}"
    elif gate.get("passed") is not True:
        passed = False
        reason = str(gate.get("reason") or f"training recorded no passing gate in {METADATA_FILE}")
    else:
        passed, reason = True, str(gate.get("reason") or "quality gate passed")
    return {
        "passed": passed,
        "reason": reason,
        "version": version,
        "gate": gate,
        "metrics": scalar_metrics,
    }


def evaluate(event: dict[str, Any], open_object: Callable[[str, str], IO[bytes]]) -> dict[str, Any]:
    """The gate for one event, reading the artifact through `open_object(bucket, key)`."""
    try:
        uri, expected = str(event["artifact_uri"]), str(event["expected_version"])
    except KeyError as error:
        raise GateError(f"event needs {error}") from None
    bucket, key = parse_s3_uri(uri)
    result = verdict(read_metadata(open_object(bucket, key)), expected_version=expected)
    return {**result, "bucket": bucket, "key": key}


@lru_cache(maxsize=1)
def _s3() -> Any:
    import boto3  # the Lambda runtime's; imported lazily so tests need no AWS

    return boto3.client("s3")


def _open_s3_object(bucket: str, key: str) -> IO[bytes]:
    body: IO[bytes] = _s3().get_object(Bucket=bucket, Key=key)["Body"]
    return body


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    return evaluate(event, _open_s3_object)
