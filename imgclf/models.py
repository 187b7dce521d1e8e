"""Model versions in the models bucket, and the pointer that makes one live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from classifier.adapters import error_code
from classifier.artifact import ArtifactError
from classifier.artifact_files import hierarchy_in_tarball, metadata_in_tarball
from classifier.contracts import (
    ARTIFACT_METADATA_FILE,
    ARTIFACT_NAME,
    MODELS_PREFIX,
    ModelPointer,
    artifact_key,
)
from gate.champion import DEFAULT_MAX_REGRESSION_PP, Comparison, compare

from .deployment import Deployment
from .errors import CliError


@dataclass(frozen=True)
class ModelVersion:
    """One artifact in the models bucket, with what its model.json says."""

    version: str
    size: int
    last_modified: str
    metadata: dict[str, Any] | None

    @property
    def int8_accuracy(self) -> float | None:
        metrics = (self.metadata or {}).get("metrics", {})
        value = metrics.get("int8_accuracy", metrics.get("accuracy_int8"))
        return float(value) if isinstance(value, int | float) else None

    @property
    def gate(self) -> str:
        gate = (self.metadata or {}).get("gate") or {}
        if "passed" not in gate:
            return "-"
        return "passed" if gate["passed"] else "failed"


def live_pointer(deployment: Deployment) -> ModelPointer | None:
    """The promoted model, or None when nothing is promoted."""
    try:
        response = deployment.client("ssm").get_parameter(Name=deployment.model_pointer_parameter)
    except ClientError as error:
        if error_code(error) == "ParameterNotFound":
            return None
        raise
    try:
        return ModelPointer.from_json(response["Parameter"]["Value"])
    except ValueError:
        return None


def require_live_pointer(deployment: Deployment) -> ModelPointer:
    pointer = live_pointer(deployment)
    if pointer is None:
        raise CliError(
            f"no model is promoted in environment {deployment.env!r}; "
            "run `imgclf model list` and `imgclf model promote VERSION`"
        )
    return pointer


def read_artifact_metadata(deployment: Deployment, version: str) -> dict[str, Any] | None:
    """model.json from inside a version's model.tar.gz (None if it cannot be read)."""
    try:
        body = (
            deployment.client("s3")
            .get_object(Bucket=deployment.models_bucket, Key=artifact_key(version))["Body"]
            .read()
        )
        return metadata_in_tarball(body)
    except (ClientError, ArtifactError):
        return None


def check_artifact(deployment: Deployment, version: str) -> None:
    """Refuse, even when forced, an artifact the function could not use: a label hierarchy
    missing or not matching the model's outputs (one line, never at run time)."""
    body = (
        deployment.client("s3")
        .get_object(Bucket=deployment.models_bucket, Key=artifact_key(version))["Body"]
        .read()
    )
    try:
        hierarchy_in_tarball(body)
    except ArtifactError as error:
        raise CliError(f"model version {version!r} cannot go live: {error}") from None


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


def upload_artifact(deployment: Deployment, tarball: Any, version: str) -> str:
    """Put a model.tar.gz at models/<version>/ in the models bucket; returns its URI."""
    deployment.client("s3").upload_file(
        str(tarball), deployment.models_bucket, artifact_key(version)
    )
    return deployment.artifact_uri(version)


@dataclass(frozen=True)
class Promotion:
    """The pointer written, and how the version compared with the model it replaced."""

    pointer: ModelPointer
    comparison: Comparison | None  # None: forced past a live model.json that cannot be read


def challenge(
    deployment: Deployment, candidate: dict[str, Any], *, max_regression_pp: float
) -> Comparison | None:
    """The candidate's model.json against the live model's (None: the live one is unreadable)."""
    live = live_pointer(deployment)
    if live is None:
        return compare(candidate, None, max_regression_pp=max_regression_pp)
    live_metadata = read_artifact_metadata(deployment, live.version)
    if live_metadata is None:
        return None
    return compare(candidate, live_metadata, max_regression_pp=max_regression_pp)


def promote(
    deployment: Deployment,
    version: str,
    *,
    force: bool = False,
    max_regression_pp: float = DEFAULT_MAX_REGRESSION_PP,
) -> Promotion:
    """Point the environment at a version. Unless forced, refuses a missing artifact, a failed
    gate, and a version worse than the live model on a shared evaluation set by more than
    `max_regression_pp` percentage points (`gate.champion.compare`, as the gate Lambda)."""
    try:
        deployment.client("s3").head_object(
            Bucket=deployment.models_bucket, Key=artifact_key(version)
        )
    except ClientError as error:
        if error_code(error) in ("404", "NoSuchKey", "NotFound"):
            raise CliError(
                f"no model version {version!r} in s3://{deployment.models_bucket}/"
                f"{MODELS_PREFIX} (see `imgclf model list`)"
            ) from None
        raise
    metadata = read_artifact_metadata(deployment, version)
    if metadata is None:
        raise CliError(f"model version {version!r} has no readable {ARTIFACT_METADATA_FILE}")
    check_artifact(deployment, version)
    gate = metadata.get("gate") or {}
    if "passed" in gate and not gate["passed"] and not force:
        raise CliError(
            f"model version {version!r} failed its quality gate; use --force to promote it anyway"
        )
    comparison = challenge(deployment, metadata, max_regression_pp=max_regression_pp)
    if comparison is None and not force:
        raise CliError(
            f"the live model's {ARTIFACT_METADATA_FILE} cannot be read, so {version!r} cannot "
            "be compared with it; use --force to promote anyway"
        )
    if comparison is not None and not comparison.passed and not force:
        raise CliError(
            f"model version {version!r} is worse than live model {comparison.live_version} on "
            f"{comparison.reasons[0]}; use --force to promote anyway"
        )
    pointer = ModelPointer(uri=deployment.artifact_uri(version), version=version)
    deployment.client("ssm").put_parameter(
        Name=deployment.model_pointer_parameter,
        Value=pointer.to_json(),
        Type="String",
        Overwrite=True,
    )
    return Promotion(pointer=pointer, comparison=comparison)
