"""Typed per-environment settings, parsed once from cdk.json context.

Pure Python (no CDK import): the CDK app and the local environment read the same settings.
Only `app.py` (and the local environment, for "local") names environments.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from classifier.contracts import (
    DEFAULT_INDEX_SHARDS,
    DEFAULT_MAX_IMAGE_BYTES,
    DEFAULT_MAX_IMAGE_PIXELS,
    DEFAULT_RECORD_CONCURRENCY,
    DEFAULT_TAGS,
    LOCAL_ENV,
    MAX_INDEX_SHARDS,
    MAX_RECORD_CONCURRENCY,
    MODEL_VERSION_MAX_LENGTH,
    parse_tag_names,
    tag_names_text,
)
from classifier.hierarchy import DEFAULT_MAX_LABELS, DEFAULT_MIN_CONFIDENCE
from gate.champion import DEFAULT_MAX_REGRESSION_PP

CONTEXT_KEY = "imgclf:environments"
CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"


class ConfigError(ValueError):
    """An environment is unknown or one of its settings is malformed."""


@dataclass(frozen=True, kw_only=True)
class EnvironmentConfig:
    """Everything that may differ between environments."""

    name: str
    architecture: Literal["arm64", "x86_64"] = "arm64"
    function_memory_mb: int = 1024
    function_timeout_seconds: int = 30
    batch_size: int = 10
    batch_window_seconds: int = 1
    max_concurrency: int = 5
    max_receive_count: int = 3
    # Which imgclf tags are written (the function's TAGS): a comma-separated subset of
    # label,confidence,model,colours,labels, or "none". Colours and labels are off by default:
    # each takes one more of the object's 10 tags, and S3 bills each tag stored.
    tags: str = tag_names_text(DEFAULT_TAGS)
    # Records of one SQS batch the function handles at once (1: one after another).
    record_concurrency: int = DEFAULT_RECORD_CONCURRENCY
    # Generic labels (models with ImageNet's logits): an item keeps every label of the
    # hierarchy at this confidence or more, at most max_labels of them (the function's
    # GENERIC_MIN_CONFIDENCE and MAX_LABELS).
    generic_min_confidence: float = DEFAULT_MIN_CONFIDENCE
    max_labels: int = DEFAULT_MAX_LABELS
    # Write shards of the results index (by_label, every value): contracts.index_shard.
    index_shards: int = DEFAULT_INDEX_SHARDS
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    key_prefix: str = ""
    key_suffix: str = ""
    removal_policy: Literal["destroy", "retain"] = "destroy"
    bucket_versioning: bool = False
    # Versioned buckets delete an object's old versions this many days after it is overwritten
    # or deleted (and every bucket aborts multipart uploads left incomplete for a week).
    noncurrent_version_expiration_days: int = 30
    # S3 server access logs for the images and models buckets, into a log bucket. Only where
    # data is retained: logs are delivered best-effort, up to hours late, so a log bucket that
    # `cdk destroy` empties can fill again before it is deleted (BucketNotEmpty).
    access_logs: bool = False
    table_deletion_protection: bool = False
    alarm_email: str | None = None
    oldest_message_age_alarm_seconds: int = 600
    throughput_floor_per_5_minutes: int = 1
    log_retention_days: int = 14
    # The function's log level (POWERTOOLS_LOG_LEVEL). Each image's "object handled" line is
    # DEBUG: the results table records every image, and at INFO in prod the line would cost
    # about $0.22 per 1M images in CloudWatch Logs ingestion (bench/cost.py).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    training_instance_type: str = "ml.g5.xlarge"
    training_use_spot: bool = True
    training_max_run_seconds: int = 3600
    training_max_wait_seconds: int = 7200
    # The quality gate refuses a candidate this many percentage points worse than the live
    # model on a shared evaluation set (gate.champion).
    max_regression_pp: float = DEFAULT_MAX_REGRESSION_PP

    def __post_init__(self) -> None:
        if self.architecture not in ("arm64", "x86_64"):
            raise ConfigError(f"{self.name}: architecture must be arm64 or x86_64")
        if self.removal_policy not in ("destroy", "retain"):
            raise ConfigError(f"{self.name}: removal_policy must be destroy or retain")
        for setting, (low, high) in WHOLE_NUMBER_RANGES.items():
            value = getattr(self, setting)
            if value < low or (high is not None and value > high):
                allowed = f"{low}..{high}" if high is not None else f">= {low}"
                raise ConfigError(f"{self.name}: {setting} must be {allowed}, got {value}")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ConfigError(
                f"{self.name}: log_retention_days must be one of "
                f"{', '.join(map(str, LOG_RETENTION_DAYS))}, got {self.log_retention_days}"
            )
        if not self.training_instance_type.startswith("ml."):
            raise ConfigError(
                f"{self.name}: training_instance_type must be a SageMaker instance type "
                f"(ml.g5.xlarge), got {self.training_instance_type!r}"
            )
        if self.batch_size > 10 and self.batch_window_seconds < 1:
            raise ConfigError(f"{self.name}: SQS batches over 10 need a batching window")
        if (
            self.training_use_spot
            and self.training_max_wait_seconds < self.training_max_run_seconds
        ):
            raise ConfigError(f"{self.name}: spot training needs max_wait >= max_run")
        if not 0 <= self.max_regression_pp <= 100:
            raise ConfigError(f"{self.name}: max_regression_pp must be 0..100")
        if not 0 < self.generic_min_confidence <= 1:
            raise ConfigError(f"{self.name}: generic_min_confidence must be within (0, 1]")
        try:
            parse_tag_names(self.tags)
        except ValueError as error:
            raise ConfigError(f"{self.name}: tags: {error}") from None
        if self.alarm_email is not None and not EMAIL_ADDRESS.fullmatch(self.alarm_email):
            raise ConfigError(
                f"{self.name}: alarm_email must be one e-mail address (name@domain), "
                f"got {self.alarm_email!r}"
            )
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(f"{self.name}: log_level must be DEBUG, INFO, WARNING or ERROR")
        if self.access_logs and not self.retain_data:
            raise ConfigError(
                f"{self.name}: access_logs needs removal_policy retain (late log deliveries "
                "would make `cdk destroy` fail on a non-empty log bucket)"
            )
        if self.table_deletion_protection and not self.retain_data:
            raise ConfigError(
                f"{self.name}: table_deletion_protection needs removal_policy retain "
                "(`cdk destroy` cannot delete a protected table)"
            )

    @property
    def queue_visibility_timeout_seconds(self) -> int:
        """AWS advises at least 6x the function timeout, plus the batching window, for SQS
        event sources."""
        return VISIBILITY_TIMEOUT_FACTOR * self.function_timeout_seconds + self.batch_window_seconds

    @property
    def tag_names(self) -> frozenset[str]:
        """The imgclf tags the function writes."""
        return parse_tag_names(self.tags)

    @property
    def retain_data(self) -> bool:
        return self.removal_policy == "retain"


VISIBILITY_TIMEOUT_FACTOR = 6
# Whole-number settings: (lowest, highest or None), as AWS and the function bound them.
WHOLE_NUMBER_RANGES: dict[str, tuple[int, int | None]] = {
    "function_memory_mb": (128, 10_240),  # Lambda
    "function_timeout_seconds": (1, 900),  # Lambda
    "batch_size": (1, 10_000),  # the SQS event source mapping
    "batch_window_seconds": (0, 300),
    "max_concurrency": (2, 1000),
    "max_receive_count": (1, 1000),  # the queue's redrive policy
    "record_concurrency": (1, MAX_RECORD_CONCURRENCY),
    "max_labels": (1, 50),
    "index_shards": (1, MAX_INDEX_SHARDS),
    "max_image_bytes": (1, None),  # the function refuses the rest at its cold start
    "max_image_pixels": (1, None),
    "noncurrent_version_expiration_days": (1, None),
    "oldest_message_age_alarm_seconds": (1, None),
    "throughput_floor_per_5_minutes": (0, None),  # 0: the alarm never fires
    "training_max_run_seconds": (1, 28 * 24 * 3600),  # SageMaker's maximum, 28 days
    "training_max_wait_seconds": (1, 28 * 24 * 3600),
}
# The retention periods CloudWatch Logs accepts (infra/constructs/retention.py maps them).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
# SageMaker's training job names, [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}, which the training state
# machine builds as imgclf-<name>-<version>-<the first group of a UUID>.
TRAINING_JOB_NAME_MAX_LENGTH = 63
JOB_NAME_SUFFIX_LENGTH = 8
# An environment's stack is imgclf-<name>, and its training jobs' names must fit too: 10.
ENVIRONMENT_NAME_MAX_LENGTH = (
    TRAINING_JOB_NAME_MAX_LENGTH
    - len("imgclf-")
    - MODEL_VERSION_MAX_LENGTH
    - JOB_NAME_SUFFIX_LENGTH
    - 2
)
ENVIRONMENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
NULLABLE = frozenset({"alarm_email"})  # the settings whose null means "none"
# One address: a local part and a dotted domain, no spaces, commas or second "@".
EMAIL_ADDRESS = re.compile(r"[^@\s,;]+@[^@\s,;.]+(?:\.[^@\s,;.]+)+")


def read_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The environments block of cdk.json."""
    try:
        context = json.loads(path.read_text())["context"][CONTEXT_KEY]
    except (OSError, KeyError, json.JSONDecodeError) as error:
        raise ConfigError(f"cannot read {CONTEXT_KEY} from {path}: {error}") from None
    if not isinstance(context, dict):
        raise ConfigError(f"{CONTEXT_KEY} in {path} must be an object")
    return context


def load_environment(name: str, environments: dict[str, Any] | None = None) -> EnvironmentConfig:
    """Parse one environment's settings; unknown names and keys are errors, not defaults."""
    environments = read_context() if environments is None else environments
    if name not in environments:
        known = ", ".join(sorted(set(environments) - {LOCAL_ENV}))
        raise ConfigError(f"unknown environment {name!r} (known: {known}; or {LOCAL_ENV})")
    if not ENVIRONMENT_NAME.fullmatch(name) or len(name) > ENVIRONMENT_NAME_MAX_LENGTH:
        raise ConfigError(
            f"environment name {name!r} must start with a letter, hold only letters, digits "
            f"and '-', and be at most {ENVIRONMENT_NAME_MAX_LENGTH} characters long (its "
            "stack is imgclf-<name>, its training jobs imgclf-<name>-<version>-<8 characters>)"
        )
    block = environments[name]
    if block is not None and not isinstance(block, dict):
        raise ConfigError(f"{name}: its settings must be an object, got {block!r}")
    raw = dict(block or {})
    nulls = sorted(key for key, value in raw.items() if value is None and key not in NULLABLE)
    if nulls:
        raise ConfigError(f"{name}: {', '.join(nulls)} must have a value, not null")
    allowed = {f.name for f in fields(EnvironmentConfig)} - {"name"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{name}: unknown settings {', '.join(unknown)}")
    for field_ in fields(EnvironmentConfig):
        if field_.name in raw and raw[field_.name] is not None:
            expected = {"int": int, "bool": bool, "str": str, "float": float}.get(
                str(field_.type).split(" ")[0]
            )
            value = raw[field_.name]
            if expected is float and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise ConfigError(f"{name}: {field_.name} must be a number, got {value!r}")
            if expected is float:  # 1.0 arrives as 1 through CDK's context (JavaScript numbers)
                raw[field_.name] = float(value)
            if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(f"{name}: {field_.name} must be a whole number, got {value!r}")
            if expected is bool and not isinstance(value, bool):
                raise ConfigError(f"{name}: {field_.name} must be true or false, got {value!r}")
            if expected is str and not isinstance(value, str):
                raise ConfigError(f"{name}: {field_.name} must be a string, got {value!r}")
    return EnvironmentConfig(name=name, **raw)
