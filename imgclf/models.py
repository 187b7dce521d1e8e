"""Model versions in the models bucket, and the pointer that makes one live."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from classifier.adapters import error_code
from classifier.artifact import ArtifactError
from classifier.artifact_files import (
    metadata_and_digest_in_tarball,
    metadata_digest,
    metadata_in_tarball,
    read_metadata,
    unpack_artifact,
)
from classifier.contracts import (
    ARTIFACT_HIERARCHY_FILE,
    ARTIFACT_METADATA_FILE,
    ARTIFACT_NAME,
    ARTIFACT_PROBE_FILE,
    MODELS_PREFIX,
    ModelPointer,
    artifact_key,
    model_version_problem,
)
from classifier.model import LoadedModel
from classifier.verify import check_artifact
from gate.champion import DEFAULT_MAX_REGRESSION_PP, Comparison, compare
from gate.recorded import recorded_gate
from infra.local import note_promoted

from .deployment import Deployment
from .errors import CliError

# What promotion extracts besides the contract files: everything `check_artifact` checks.
PROMOTION_FILES = (ARTIFACT_HIERARCHY_FILE, ARTIFACT_PROBE_FILE)
# S3's error codes for a key that is not there (GetObject's and HeadObject's).
_MISSING_OBJECT_CODES = ("404", "NoSuchKey", "NotFound")
# Why a taken version is refused, and what to do instead.
_TAKEN = (
    "a version never changes once uploaded: choose a new --version "
    "(imgclf model list shows the taken ones)"
)


@dataclass(frozen=True)
class ModelVersion:
    """One artifact in the models bucket, with what its model.json says."""

    version: str
    size: int
    last_modified: str
    metadata: dict[str, Any] | None

    @property
    def int8_accuracy(self) -> float | None:
        metrics = (self.metadata or {}).get("metrics")
        if not isinstance(metrics, dict):  # a hand-made model.json must not hide the listing
            return None
        value = metrics.get("int8_accuracy", metrics.get("accuracy_int8"))
        return float(value) if isinstance(value, int | float) else None

    @property
    def gate(self) -> str:
        gate = recorded_gate(self.metadata or {})
        if gate is None:
            return "-"
        return "passed" if gate.passed else "failed"


def pointer_parameter(deployment: Deployment) -> dict[str, Any] | None:
    """The model pointer's SSM parameter (`Value`, `LastModifiedDate`, ...), or None when
    nothing was ever promoted."""
    try:
        response = deployment.client("ssm").get_parameter(Name=deployment.model_pointer_parameter)
    except ClientError as error:
        if error_code(error) == "ParameterNotFound":
            return None
        raise
    parameter: dict[str, Any] = response["Parameter"]
    return parameter


def live_pointer(deployment: Deployment) -> ModelPointer | None:
    """The promoted model, or None when nothing is promoted (or the pointer is malformed)."""
    parameter = pointer_parameter(deployment)
    try:
        return ModelPointer.from_json(parameter["Value"]) if parameter is not None else None
    except ValueError:
        return None


def live_labels(deployment: Deployment) -> tuple[str, ...]:
    """The live model's own labels (none when nothing is live, or its pointer or model.json
    cannot be read)."""
    try:
        pointer = live_pointer(deployment)
        metadata = read_artifact_metadata(deployment, pointer.version) if pointer else None
    except (CliError, ClientError):
        return ()
    labels = (metadata or {}).get("labels")
    return tuple(str(label) for label in labels) if isinstance(labels, list) else ()


def require_live_pointer(deployment: Deployment) -> ModelPointer:
    parameter = pointer_parameter(deployment)
    if parameter is None:
        raise CliError(
            f"no model is promoted in environment {deployment.env!r}; "
            "run `imgclf model list` and `imgclf model promote VERSION`"
        )
    try:
        return ModelPointer.from_json(parameter["Value"])
    except ValueError as error:
        raise CliError(
            f"the model pointer {deployment.model_pointer_parameter} is malformed ({error}); "
            "promote a version by name (see `imgclf model list`)"
        ) from None


def read_artifact_metadata(deployment: Deployment, version: str) -> dict[str, Any] | None:
    """model.json from inside a version's model.tar.gz (None if it cannot be read)."""
    found = read_artifact_metadata_and_digest(deployment, version)
    return found[0] if found is not None else None


def read_artifact_metadata_and_digest(
    deployment: Deployment, version: str
) -> tuple[dict[str, Any], str] | None:
    """model.json from inside a version's model.tar.gz and its digest as a pointer pins it
    (None if it cannot be read)."""
    try:
        body = (
            deployment.client("s3")
            .get_object(Bucket=deployment.models_bucket, Key=artifact_key(version))["Body"]
            .read()
        )
        return metadata_and_digest_in_tarball(body)
    except (ClientError, ArtifactError):
        return None


def list_versions(deployment: Deployment, *, with_metadata: bool = True) -> list[ModelVersion]:
    """Every models/<version>/model.tar.gz, newest first."""
    s3 = deployment.client("s3")
    versions: list[ModelVersion] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=deployment.models_bucket, Prefix=MODELS_PREFIX):
        for entry in page.get("Contents", []):
            key = str(entry["Key"])
            parts = key[len(MODELS_PREFIX) :].split("/")
            if len(parts) != 2 or parts[1] != ARTIFACT_NAME:
                continue
            version = parts[0]
            versions.append(
                ModelVersion(
                    version=version,
                    size=int(entry["Size"]),
                    last_modified=entry["LastModified"].isoformat(timespec="seconds"),
                    metadata=read_artifact_metadata(deployment, version) if with_metadata else None,
                )
            )
    return sorted(versions, key=lambda v: v.last_modified, reverse=True)


@dataclass(frozen=True)
class Upload:
    """Where a version's artifact is, and whether this upload found the same model there."""

    uri: str
    already_there: bool

    def outcome(self) -> str:
        """What to tell the user: 'uploaded to URI', or that the same model was there."""
        if self.already_there:
            return f"was already in {self.uri}, the same model, left as it is"
        return f"uploaded to {self.uri}"


def upload_artifact(deployment: Deployment, tarball: Path | str, version: str) -> Upload:
    """Put a model.tar.gz at models/<version>/ in the models bucket, once.

    A version's artifact never changes after its upload: the pointer, the function's
    per-version model cache and the gate's verdicts all name it by version, so replacing it
    would put an unchecked model live under a checked name. The write is conditional (S3's
    If-None-Match), so two uploads cannot race. The same model again (`model_identity`)
    leaves the stored artifact as it is; a different one is a CliError."""
    data = Path(tarball).read_bytes()
    try:
        deployment.client("s3").put_object(
            Bucket=deployment.models_bucket, Key=artifact_key(version), Body=data, IfNoneMatch="*"
        )
    except ClientError as error:
        if error_code(error) == "ConditionalRequestConflict":
            raise CliError(
                f"another upload of model version {version!r} was under way; run this again"
            ) from None
        if error_code(error) != "PreconditionFailed":
            raise
        _require_same_model(deployment, version, data)
        return Upload(deployment.artifact_uri(version), already_there=True)
    return Upload(deployment.artifact_uri(version), already_there=False)


def model_identity(metadata: dict[str, Any]) -> dict[str, Any]:
    """model.json without what only says when and how fast it was built (`created_at`, the
    metrics' `*_seconds`): equal for two builds of the same model, since model.json's `files`
    holds the digest of every other file of the artifact."""
    same = {key: value for key, value in metadata.items() if key != "created_at"}
    if isinstance(same.get("metrics"), dict):
        same["metrics"] = {
            key: value for key, value in same["metrics"].items() if not key.endswith("_seconds")
        }
    return same


def _require_same_model(deployment: Deployment, version: str, data: bytes) -> None:
    stored = _identity_or_none(fetch_artifact(deployment, version))
    new = _identity_or_none(data)
    if stored is not None and stored == new:
        return
    was, now = (stored or {}).get("files", {}), (new or {}).get("files", {})
    differing = sorted(name for name in {*was, *now} if was.get(name) != now.get(name))
    raise CliError(
        f"model version {version!r} is already in {deployment.artifact_uri(version)} as a "
        f"different model ({', '.join(differing) or ARTIFACT_METADATA_FILE} differ); {_TAKEN}"
    )


def _identity_or_none(data: bytes) -> dict[str, Any] | None:
    try:
        return model_identity(metadata_in_tarball(data))
    except ArtifactError:
        return None


def require_new_version(deployment: Deployment, version: str) -> None:
    """A --version that names an uploaded artifact is a CliError before any work starts
    (training takes minutes; the upload would refuse it after them: `upload_artifact`)."""
    try:
        deployment.client("s3").head_object(
            Bucket=deployment.models_bucket, Key=artifact_key(version)
        )
    except ClientError as error:
        if error_code(error) in _MISSING_OBJECT_CODES:
            return
        raise
    raise CliError(
        f"model version {version!r} is already in {deployment.artifact_uri(version)}; {_TAKEN}"
    )


def fetch_artifact(deployment: Deployment, version: str) -> bytes:
    """A version's model.tar.gz; CliError (one line) when the models bucket has none."""
    try:
        response = deployment.client("s3").get_object(
            Bucket=deployment.models_bucket, Key=artifact_key(version)
        )
    except ClientError as error:
        if error_code(error) in _MISSING_OBJECT_CODES:
            raise CliError(
                f"no model version {version!r} in s3://{deployment.models_bucket}/"
                f"{MODELS_PREFIX} (see `imgclf model list`)"
            ) from None
        raise
    body: bytes = response["Body"].read()
    return body


def verified_model(data: bytes, directory: Path, *, allow_legacy: bool = False) -> LoadedModel:
    """Unpack model.tar.gz bytes with their probe into `directory` and run `check_artifact`
    on them: digests, load, input and output spec, probe (ArtifactError, one line)."""
    unpack_artifact(data, directory, optional=PROMOTION_FILES)
    return check_artifact(directory, allow_legacy=allow_legacy)


def _made_before_digests(directory: Path) -> bool:
    try:
        return not read_metadata(directory).files
    except ArtifactError:
        return False


@dataclass(frozen=True)
class CheckedVersion:
    """A version that passed `check_version`: its model.json, and that file's digest (what
    the pointer records, so the function runs only these bytes: ModelPointer.digest)."""

    metadata: dict[str, Any]
    digest: str


def check_version(
    deployment: Deployment, version: str, *, allow_legacy: bool = False
) -> CheckedVersion:
    """Refuse, even when forced, a version the function could not run (one line): its files
    must match their digests, the model must load and fit model.json, and it must give its
    probe images their labels from export, under the version it is promoted as (the function
    refuses a model.json of another). Returns its model.json as written."""
    problem = model_version_problem(version)
    if problem is not None:
        raise CliError(f"model version {version!r} cannot go live: {problem}")
    data = fetch_artifact(deployment, version)
    with tempfile.TemporaryDirectory(prefix="imgclf-promote-") as tmp:
        directory = Path(tmp)
        try:
            verified_model(data, directory, allow_legacy=allow_legacy)
        except ArtifactError as error:
            hint = " (--allow-legacy)" if _made_before_digests(directory) else ""
            raise CliError(f"model version {version!r} cannot go live: {error}{hint}") from None
        metadata = json.loads((directory / ARTIFACT_METADATA_FILE).read_text())
        if metadata.get("version") != version:
            raise CliError(
                f"model version {version!r} cannot go live: its model.json says version "
                f"{metadata.get('version')!r} (upload it under that version, or rebuild it)"
            )
        return CheckedVersion(metadata, metadata_digest(directory))


@dataclass(frozen=True)
class LiveModel:
    """The live pointer, its model.json and whether its artifact still loads."""

    pointer: ModelPointer | None
    # None: nothing live, its model.json cannot be read, or it is not the one promoted
    metadata: dict[str, Any] | None
    loads: bool  # checked as an artifact made before digests may be: it was promoted so
    digest: str = ""  # its model.json's, when it loads (for a pointer written without one)
    replaced: bool = False  # its model.json is not the one the pointer's digest pins


def inspect_live(deployment: Deployment) -> LiveModel:
    """The live model as promotion needs it: to compare with, and to keep as `previous`."""
    pointer = live_pointer(deployment)
    if pointer is None:
        return LiveModel(None, None, loads=False)
    try:
        data = fetch_artifact(deployment, pointer.version)
    except CliError:
        return LiveModel(pointer, None, loads=False)
    with tempfile.TemporaryDirectory(prefix="imgclf-live-") as tmp:
        directory = Path(tmp)
        try:
            verified_model(data, directory, allow_legacy=True)
            digest = metadata_digest(directory)
        except ArtifactError:
            digest = ""
        try:
            metadata = metadata_in_tarball(data)
        except ArtifactError:
            metadata = None
    if digest and not pins(pointer, digest):
        # Replaced after promotion: the function refuses these bytes, so nothing is compared
        # with them, and they are not kept as the next pointer's `previous`
        return LiveModel(pointer, None, loads=False, digest=digest, replaced=True)
    return LiveModel(pointer, metadata, loads=bool(digest), digest=digest)


def pins(pointer: ModelPointer, digest: str) -> bool:
    """Whether a pointer takes a model.json of `digest` (one written before digests, any)."""
    return not pointer.digest or digest == pointer.digest


def next_previous(live: LiveModel, version: str) -> ModelPointer | None:
    """The `previous` of a pointer to `version`: the live version when it loads, else the live
    pointer's own previous; never `version` itself."""
    if live.pointer is None:
        return None
    if live.pointer.version != version and live.loads:
        # The digest promotion recorded; a pointer written before digests gets today's.
        previous: ModelPointer | None = replace(
            live.pointer.last, digest=live.pointer.digest or live.digest
        )
    else:
        previous = live.pointer.previous
    return None if previous is None or previous.version == version else previous


@dataclass(frozen=True)
class Promotion:
    """The pointer written, and how the version compared with the model it replaced."""

    pointer: ModelPointer
    comparison: Comparison | None  # None: forced past a live model.json that cannot be read


def judge(
    version: str,
    candidate: dict[str, Any],
    live: LiveModel,
    *,
    force: bool,
    max_regression_pp: float,
) -> Comparison | None:
    """The candidate's own gate (no verdict is no pass), then the candidate against the live
    model (None: the live model.json is unreadable, or not the one promoted); CliError when
    either refuses it, unless forced."""
    gate = recorded_gate(candidate)
    if (gate is None or not gate.passed) and not force:
        why = "records no quality gate verdict" if gate is None else "failed its quality gate"
        reasons = f" ({'; '.join(gate.reasons)})" if gate is not None and gate.reasons else ""
        raise CliError(
            f"model version {version!r} {why}{reasons}; use --force to promote it anyway"
        )
    if live.pointer is not None and live.metadata is None:
        if not force:
            state = (
                "artifact was replaced after promotion"
                if live.replaced
                else f"{ARTIFACT_METADATA_FILE} cannot be read"
            )
            raise CliError(
                f"the live model's {state}, so {version!r} cannot be compared with it; use "
                "--force to promote anyway"
            )
        return None
    comparison = compare(candidate, live.metadata, max_regression_pp=max_regression_pp)
    if not comparison.passed and not force:
        raise CliError(
            f"model version {version!r} is worse than live model {comparison.live_version} on "
            f"{comparison.reasons[0]}; use --force to promote anyway"
        )
    return comparison


def promote(
    deployment: Deployment,
    version: str,
    *,
    force: bool = False,
    allow_legacy: bool = False,
    max_regression_pp: float = DEFAULT_MAX_REGRESSION_PP,
    expected_digest: str = "",
) -> Promotion:
    """Point the environment at a version. First, even when forced, it must be a model the
    function can run (`check_version`; `allow_legacy`: one made before digests and probes),
    and, given `expected_digest` (a rollback's), still the model.json promoted before.
    Unless forced, refuses a failed gate and a version worse than the live model on a shared
    evaluation set by more than `max_regression_pp` points (`gate.champion.compare`). The
    pointer keeps the live version as `previous` when that one still loads."""
    candidate = check_version(deployment, version, allow_legacy=allow_legacy)
    if expected_digest and candidate.digest != expected_digest:
        raise CliError(
            f"cannot roll back to {version!r}: its artifact was replaced after it was live "
            f"(model.json sha256 {candidate.digest[:12]}…, the pointer recorded "
            f"{expected_digest[:12]}…); promote a version by name to check it anew"
        )
    live = inspect_live(deployment)
    comparison = judge(
        version, candidate.metadata, live, force=force, max_regression_pp=max_regression_pp
    )
    previous = next_previous(live, version)
    if previous is not None and not live.loads:  # the live one's own previous, if still pinned
        found = read_artifact_metadata_and_digest(deployment, previous.version)
        previous = previous if pins(previous, found[1] if found else "") else None
    pointer = ModelPointer(
        uri=deployment.artifact_uri(version),
        version=version,
        previous=previous,
        digest=candidate.digest,
    )
    deployment.client("ssm").put_parameter(
        Name=deployment.model_pointer_parameter,
        Value=pointer.to_json(),
        Type="String",
        Overwrite=True,
    )
    if deployment.home is not None:  # `imgclf local up`'s: made live again at the next one
        note_promoted(version, deployment.home)
    return Promotion(pointer=pointer, comparison=comparison)


def rollback(
    deployment: Deployment,
    *,
    force: bool = False,
    allow_legacy: bool = False,
    max_regression_pp: float = DEFAULT_MAX_REGRESSION_PP,
) -> Promotion:
    """Promote the live pointer's `previous`, with every check promotion runs."""
    live = require_live_pointer(deployment)
    if live.previous is None:
        raise CliError(
            f"model {live.version} is live in {deployment.env!r} with no previous version to "
            "roll back to; promote one by name (see `imgclf model list`)"
        )
    return promote(
        deployment,
        live.previous.version,
        force=force,
        allow_legacy=allow_legacy,
        max_regression_pp=max_regression_pp,
        expected_digest=live.previous.digest,
    )
