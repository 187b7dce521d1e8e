"""Quality gate of the training state machine: read model.json from a model.tar.gz.

Training decides the model's own verdict (int8 accuracy, float-vs-int8 drop, and that the
artifact it wrote loads and answers its probe images as at export: training.gate's
artifact_gate) and records it in model.json's `gate`; this function reads it back out of the
artifact, checks that the artifact is the version the execution asked for, and that every
file still matches the digest model.json records (so the artifact promoted is the one
training ran), without LiteRT. Then champion against challenger: it reads
the live model's model.json (through the pointer) and fails a candidate that is worse than
the live model on a shared evaluation set by more than MAX_REGRESSION_PP (`champion.compare`,
the same function `imgclf model promote` runs). It returns a small summary the state
machine's Choice branches on. Standard library and boto3 only (the Lambda runtime's), plus
champion.py and recorded.py (model.json's gate, read as every reader reads it) beside this
file, so the code ships as a plain zip.

Event: {"artifact_uri": "s3://<bucket>/<key>/model.tar.gz", "expected_version": "<version>",
        "force": false,     # true: skip the comparison with the live model
        "promote": true,    # false: compare and report, but do not fail on it
        "pointer": {"uri": ..., "version": ...}}  # optional: the pointer to write
Result "pointer" (with the event's): that pointer with `digest` (the sha256 of the model.json
checked here, which the function requires of the artifact it loads) and `previous`, the live
version when its artifact's digests hold (else the live pointer's own previous): what the
state machine writes.
Environment: MODEL_POINTER_PARAMETER (the pointer's name), MAX_REGRESSION_PP (default 1.0).
Result: {"passed": bool, "reason": str, "version": str, "gate": {...}, "metrics": {...},
         "champion": {...} | null, "bucket": str, "key": str}
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath
from typing import IO, Any
from urllib.parse import urlparse

try:  # the Lambda zip: champion.py and recorded.py sit beside gate.py on sys.path
    import champion
    from recorded import recorded_gate
except ModuleNotFoundError:  # imported as the installed package `gate`
    from gate import champion
    from gate.recorded import recorded_gate

# classifier.contracts.ARTIFACT_METADATA_FILE; tests/infra/test_gate.py keeps the two equal.
METADATA_FILE = "model.json"
MAX_METADATA_BYTES = 4 * 1024 * 1024


ObjectOpener = Callable[[str, str], IO[bytes]]
# The parameter's value, or None when it does not exist.
ParameterReader = Callable[[str], str | None]


class GateError(ValueError):
    """The artifact cannot be read: the execution fails rather than promoting blindly."""


@dataclass(frozen=True)
class GateSettings:
    """The function's environment, parsed once."""

    model_pointer_parameter: str
    max_regression_pp: float = champion.DEFAULT_MAX_REGRESSION_PP

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GateSettings:
        try:
            pointer = environ["MODEL_POINTER_PARAMETER"]
            margin = float(environ.get("MAX_REGRESSION_PP", cls.max_regression_pp))
        except (KeyError, ValueError) as error:
            raise GateError(f"bad gate environment: {error}") from None
        return cls(model_pointer_parameter=pointer, max_regression_pp=margin)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key)."""
    parsed = urlparse(uri)
    key = parsed.path.lstrip("/")
    if parsed.scheme != "s3" or not parsed.netloc or not key:
        raise GateError(f"artifact URI {uri!r} is not s3://bucket/key")
    return parsed.netloc, key


def read_metadata(stream: IO[bytes]) -> dict[str, Any]:
    """model.json from a gzipped tar stream."""
    return read_artifact(stream)[0]


def read_artifact(stream: IO[bytes]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """model.json and every file's sha256 and size (model.json's own too), from a gzipped
    tar stream read member by member (no temporary file)."""
    metadata: dict[str, Any] | None = None
    digests: dict[str, dict[str, Any]] = {}
    try:
        with tarfile.open(fileobj=stream, mode="r|gz") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                name = PurePosixPath(member.name).name
                source = archive.extractfile(member)
                if source is None:
                    continue
                if name == METADATA_FILE:
                    metadata, digests[name] = _metadata(member, source)
                else:
                    digests[name] = _digest(source)
    except (tarfile.TarError, EOFError, OSError, json.JSONDecodeError) as error:
        raise GateError(f"artifact is not a readable model.tar.gz: {error}") from None
    if metadata is None:
        raise GateError(f"artifact has no {METADATA_FILE}")
    return metadata, digests


def _metadata(member: tarfile.TarInfo, source: IO[bytes]) -> tuple[dict[str, Any], dict[str, Any]]:
    """model.json, parsed, and its own digest (the pointer's `digest`)."""
    if member.size > MAX_METADATA_BYTES:
        raise GateError(f"{METADATA_FILE} is {member.size} bytes, too large")
    written = source.read()
    data = json.loads(written)
    if not isinstance(data, dict):
        raise GateError(f"{METADATA_FILE} is not a JSON object")
    return data, {"sha256": hashlib.sha256(written).hexdigest(), "size": len(written)}


def _digest(source: IO[bytes]) -> dict[str, Any]:
    digest, size = hashlib.sha256(), 0
    while chunk := source.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def integrity_problem(metadata: dict[str, Any], digests: dict[str, dict[str, Any]]) -> str | None:
    """Why the artifact's files are not the ones model.json records (classifier.artifact_files
    .verify_digests' rule and wording), or None."""
    recorded = metadata.get("files")
    if not isinstance(recorded, dict) or not recorded:
        return "model.json records no file digests (made before they were): rebuild it"
    for name, expected in sorted(recorded.items()):
        actual = digests.get(str(name))
        if actual is None:
            return f"{name} is listed in model.json but not in the artifact"
        if not isinstance(expected, dict) or (actual["sha256"], actual["size"]) != (
            expected.get("sha256"),
            expected.get("size"),
        ):
            wanted = expected if isinstance(expected, dict) else {}
            return (
                f"{name} does not match model.json: sha256 {actual['sha256'][:16]}… "
                f"({actual['size']} bytes) in the artifact, {str(wanted.get('sha256'))[:16]}… "
                f"({wanted.get('size')} bytes) recorded"
            )
    return None


def verdict(metadata: dict[str, Any], *, expected_version: str) -> dict[str, Any]:
    """Pass only if training recorded a passing gate for the version this execution trained."""
    gate = metadata.get("gate")
    gate = gate if isinstance(gate, dict) else {}
    recorded = recorded_gate(metadata)
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
    elif recorded is None:
        passed, reason = False, f"training recorded no gate in {METADATA_FILE}"
    elif not recorded.passed:
        passed = False
        reason = "quality gate failed: " + ("; ".join(recorded.reasons) or "no reason recorded")
    else:
        passed, reason = True, "quality gate passed"
    return {
        "passed": passed,
        "reason": reason,
        "version": version,
        "gate": gate,
        "metrics": scalar_metrics,
    }


@dataclass(frozen=True)
class Live:
    """The live model: its pointer (as JSON), model.json, and whether its files still match
    their digests (a version fit to be the next pointer's `previous`)."""

    pointer: dict[str, Any]
    metadata: dict[str, Any]
    intact: bool
    digest: str = ""  # its model.json's sha256


def read_live(
    pointer_name: str, open_object: ObjectOpener, read_parameter: ParameterReader
) -> Live | None:
    """The live model via the pointer; None when nothing is promoted."""
    value = read_parameter(pointer_name)
    if value is None:
        return None
    try:
        pointer = json.loads(value)
        uri = str(pointer["uri"])
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise GateError(f"pointer {pointer_name} is not JSON with a uri: {error!r}") from None
    metadata, digests = read_artifact(open_object(*parse_s3_uri(uri)))
    intact = integrity_problem(metadata, digests) is None
    return Live(pointer, metadata, intact, digests[METADATA_FILE]["sha256"])


def next_pointer(pointer: Any, live: Live | None, digest: str) -> dict[str, Any]:
    """The pointer to write: the event's, with `digest` (the checked model.json's sha256:
    classifier.contracts.ModelPointer) and `previous` the live version when its files hold
    (else the live pointer's own previous; never the version itself)."""
    if not isinstance(pointer, dict) or not pointer.get("uri") or not pointer.get("version"):
        raise GateError('"pointer" must be {"uri": ..., "version": ...}')
    written: dict[str, Any] = {
        "uri": str(pointer["uri"]),
        "version": str(pointer["version"]),
        "digest": digest,
    }
    if live is None:
        return written
    current = {
        "uri": str(live.pointer.get("uri")),
        "version": str(live.pointer.get("version")),
        "digest": str(live.pointer.get("digest") or live.digest),
    }
    previous = current if live.intact else live.pointer.get("previous")
    if current["version"] == written["version"]:
        previous = live.pointer.get("previous")
    if isinstance(previous, dict) and previous.get("version") != written["version"]:
        written["previous"] = {
            key: previous[key] for key in ("uri", "version", "digest") if previous.get(key)
        }
    return written


def challenge(
    result: dict[str, Any],
    candidate: dict[str, Any],
    live: dict[str, Any] | None,
    *,
    max_regression_pp: float,
    promote: bool,
) -> dict[str, Any]:
    """A passing verdict, failed when the candidate loses to the live model (if promoting)."""
    comparison = champion.compare(candidate, live, max_regression_pp=max_regression_pp)
    result = {**result, "champion": comparison.to_dict()}
    if comparison.passed or not promote:
        return result
    reasons = "; ".join(comparison.reasons)
    return {
        **result,
        "passed": False,
        "reason": f"worse than live model {comparison.live_version}: {reasons} "
        '(start the execution with "force": true to promote anyway)',
    }


def evaluate(
    event: dict[str, Any],
    open_object: ObjectOpener,
    read_parameter: ParameterReader,
    settings: GateSettings,
) -> dict[str, Any]:
    """The gate for one event, reading objects through `open_object(bucket, key)` and the
    pointer through `read_parameter(name)`."""
    try:
        uri, expected = str(event["artifact_uri"]), str(event["expected_version"])
    except KeyError as error:
        raise GateError(f"event needs {error}") from None
    force, promote = event.get("force", False), event.get("promote", True)
    if not isinstance(force, bool) or not isinstance(promote, bool):
        raise GateError('"force" and "promote" must be true or false')
    bucket, key = parse_s3_uri(uri)
    candidate, digests = read_artifact(open_object(bucket, key))
    result = {**verdict(candidate, expected_version=expected), "champion": None}
    problem = integrity_problem(candidate, digests)
    if result["passed"] and problem is not None:
        result = {**result, "passed": False, "reason": f"artifact cannot go live: {problem}"}
    live = None
    if result["passed"] and (not force or "pointer" in event):
        live = read_live(settings.model_pointer_parameter, open_object, read_parameter)
    if result["passed"] and not force:
        result = challenge(
            result,
            candidate,
            None if live is None else live.metadata,
            max_regression_pp=settings.max_regression_pp,
            promote=promote,
        )
    if "pointer" in event and result["passed"]:
        digest = digests[METADATA_FILE]["sha256"]
        result = {**result, "pointer": next_pointer(event["pointer"], live, digest)}
    return {**result, "bucket": bucket, "key": key}


@lru_cache(maxsize=1)
def _s3() -> Any:
    import boto3  # the Lambda runtime's; imported lazily so tests need no AWS

    return boto3.client("s3")


@lru_cache(maxsize=1)
def _ssm() -> Any:
    import boto3

    return boto3.client("ssm")


@lru_cache(maxsize=1)
def _settings() -> GateSettings:
    return GateSettings.from_environ(os.environ)


def _open_s3_object(bucket: str, key: str) -> IO[bytes]:
    body: IO[bytes] = _s3().get_object(Bucket=bucket, Key=key)["Body"]
    return body


def _read_ssm_parameter(name: str) -> str | None:
    client = _ssm()
    try:
        value: str = client.get_parameter(Name=name)["Parameter"]["Value"]
    except client.exceptions.ParameterNotFound:
        return None
    return value


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    return evaluate(event, _open_s3_object, _read_ssm_parameter, _settings())
