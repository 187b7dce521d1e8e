"""Typed settings for the function, parsed once from environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .contracts import (
    DEFAULT_IMAGE_FORMATS,
    DEFAULT_INDEX_SHARDS,
    DEFAULT_MAX_IMAGE_BYTES,
    DEFAULT_MAX_IMAGE_PIXELS,
    DEFAULT_RECORD_CONCURRENCY,
    DEFAULT_TAGS,
    MAX_INDEX_SHARDS,
    MAX_RECORD_CONCURRENCY,
    parse_tag_names,
)
from .hierarchy import DEFAULT_MAX_LABELS, DEFAULT_MIN_CONFIDENCE, LabelSettings

RETRY_MODES = ("standard", "adaptive", "legacy")  # botocore's


class SettingsError(ValueError):
    """An environment variable is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    """Everything the function reads from its environment.

    Environment variables (the contract with infra and the local environment):
    RESULTS_TABLE, MODEL_POINTER_PARAMETER (required); TAGS (which imgclf tags are written:
    a comma-separated subset of label, confidence, model, colours, labels; empty or `none`
    for no tags; default label,confidence,model), MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS,
    ALLOWED_FORMATS, TOP_K, MODEL_CACHE_DIR, MODEL_REFRESH_SECONDS, INDEX_SHARDS (write
    shards of the results indexes, 1..MAX_INDEX_SHARDS, default 4), RECORD_CONCURRENCY
    (records of a batch handled at once, 1..MAX_RECORD_CONCURRENCY; 1 = one after another),
    RETRY_MODE (botocore's `standard`, the default, or `adaptive`; chosen by bench/soak.py),
    MAX_ATTEMPTS (default 5), and for models with ImageNet's logits GENERIC_MIN_CONFIDENCE
    (0..1) and MAX_LABELS: which generic labels an item keeps.
    """

    results_table: str
    model_pointer_parameter: str
    tags: frozenset[str] = DEFAULT_TAGS
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    allowed_formats: frozenset[str] = DEFAULT_IMAGE_FORMATS
    top_k: int = 3
    model_cache_dir: str = "/tmp/imgclf-models"
    model_refresh_seconds: float = 60.0
    index_shards: int = DEFAULT_INDEX_SHARDS
    record_concurrency: int = DEFAULT_RECORD_CONCURRENCY
    retry_mode: str = "standard"
    max_attempts: int = 5
    labelling: LabelSettings = LabelSettings()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Parse and validate; a bad value fails the cold start with one clear line."""
        env = os.environ if env is None else env

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise SettingsError(f"environment variable {name} is required")
            return value

        def number(name: str, default: float, kind: type = int) -> float:
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number, got {raw!r}") from None
            if value <= 0:
                raise SettingsError(f"{name} must be positive, got {raw!r}")
            return float(value)

        shards = env.get("INDEX_SHARDS", "").strip()
        if shards and not (shards.isdigit() and 1 <= int(shards) <= MAX_INDEX_SHARDS):
            raise SettingsError(
                f"INDEX_SHARDS must be a whole number 1..{MAX_INDEX_SHARDS}, got {shards!r}"
            )

        concurrency = env.get("RECORD_CONCURRENCY", "").strip()
        if concurrency and not (
            concurrency.isdigit() and 1 <= int(concurrency) <= MAX_RECORD_CONCURRENCY
        ):
            raise SettingsError(
                f"RECORD_CONCURRENCY must be a whole number 1..{MAX_RECORD_CONCURRENCY}, "
                f"got {concurrency!r}"
            )

        formats = env.get("ALLOWED_FORMATS")
        allowed = (
            frozenset(f.strip().upper() for f in formats.split(",") if f.strip())
            if formats
            else DEFAULT_IMAGE_FORMATS
        )
        if not allowed:
            raise SettingsError("ALLOWED_FORMATS must name at least one format")
        retry_mode = env.get("RETRY_MODE", "").strip().lower() or cls.retry_mode
        if retry_mode not in RETRY_MODES:
            raise SettingsError(
                f"RETRY_MODE must be one of {', '.join(RETRY_MODES)}, got {env['RETRY_MODE']!r}"
            )
        return cls(
            results_table=required("RESULTS_TABLE"),
            model_pointer_parameter=required("MODEL_POINTER_PARAMETER"),
            tags=_tag_names(env),
            max_image_bytes=int(number("MAX_IMAGE_BYTES", cls.max_image_bytes)),
            max_image_pixels=int(number("MAX_IMAGE_PIXELS", cls.max_image_pixels)),
            allowed_formats=allowed,
            top_k=int(number("TOP_K", cls.top_k)),
            model_cache_dir=env.get("MODEL_CACHE_DIR", cls.model_cache_dir),
            model_refresh_seconds=float(
                number("MODEL_REFRESH_SECONDS", cls.model_refresh_seconds, float)
            ),
            index_shards=int(shards) if shards else cls.index_shards,
            record_concurrency=int(concurrency) if concurrency else cls.record_concurrency,
            retry_mode=retry_mode,
            max_attempts=int(number("MAX_ATTEMPTS", cls.max_attempts)),
            labelling=_labelling(env),
        )


def _labelling(env: Mapping[str, str]) -> LabelSettings:
    """GENERIC_MIN_CONFIDENCE and MAX_LABELS as one LabelSettings."""
    raw_min = env.get("GENERIC_MIN_CONFIDENCE", "").strip()
    raw_max = env.get("MAX_LABELS", "").strip()
    try:
        minimum = float(raw_min) if raw_min else DEFAULT_MIN_CONFIDENCE
    except ValueError:
        raise SettingsError(f"GENERIC_MIN_CONFIDENCE must be a number, got {raw_min!r}") from None
    if raw_max and not raw_max.isdigit():
        raise SettingsError(f"MAX_LABELS must be a whole number, got {raw_max!r}")
    try:
        return LabelSettings(minimum, int(raw_max) if raw_max else DEFAULT_MAX_LABELS)
    except ValueError as error:
        raise SettingsError(f"GENERIC_MIN_CONFIDENCE/MAX_LABELS: {error}") from None


def _tag_names(env: Mapping[str, str]) -> frozenset[str]:
    """TAGS: which of our tags are written (unset: DEFAULT_TAGS)."""
    if "TAGS" not in env:
        return DEFAULT_TAGS
    try:
        return parse_tag_names(env["TAGS"])
    except ValueError as error:
        raise SettingsError(f"TAGS: {error}") from None
