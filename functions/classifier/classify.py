"""The core: one object event in, one outcome out. The failure policy is decided here.

permanent (bad image)        -> REJECTED item, acknowledged
tags S3 will not store       -> CLASSIFIED item, `tags` says why they were skipped; acknowledged
transient (anything raised)  -> the caller reports the record failed; the queue retries, then DLQ
duplicate / stale            -> nothing written, acknowledged
noise                        -> handled by events.parse_body (no events)

Adapters come in as arguments (ports below), so this module has no AWS dependency.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from .colours import dominant_colours
from .contracts import DEFAULT_INDEX_SHARDS
from .events import EventKind, ObjectEvent
from .imaging import ImageLimits, RejectedImageError, check_size, prepare_image
from .model import LoadedModel
from .results import (
    ORDER_ATTRIBUTE,
    Decision,
    ObjectFacts,
    classified_item,
    colour_tags,
    decide,
    merge_tags,
    our_tags,
    rejected_item,
    tags_problem,
)

logger = logging.getLogger(__name__)


class TagsRejectedError(ValueError):
    """S3 refused the tag set itself (not a throttle or an outage): retrying cannot help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ObjectReader(Protocol):
    """Reads image bytes and reads/writes object tags.

    `put_tags` raises `TagsRejectedError` when S3 refuses the tags themselves, and anything
    else for faults worth a retry.
    """

    def get(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> Any: ...

    def get_tags(self, bucket: str, key: str, version_id: str | None) -> list[dict[str, str]]: ...

    def put_tags(
        self, bucket: str, key: str, version_id: str | None, tags: list[dict[str, str]]
    ) -> None: ...


class ResultStore(Protocol):
    """The results table."""

    def get(self, bucket: str, key: str) -> dict[str, Any] | None: ...

    def put(self, item: dict[str, Any]) -> bool: ...

    def delete(self, bucket: str, key: str, order: str) -> bool: ...


class Outcome(StrEnum):
    """What happened to one event."""

    CLASSIFIED = "classified"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    STALE = "stale"
    REMOVED = "removed"
    GONE = "gone"


@dataclass(frozen=True)
class Result:
    """One event's outcome, with what metrics and logs need."""

    outcome: Outcome
    bucket: str
    key: str
    label: str | None = None
    confidence: float | None = None
    reason: str | None = None
    latency_ms: float = 0.0


@dataclass
class Classifier:
    """Handles object events with the given adapters and the live model."""

    objects: ObjectReader
    results: ResultStore
    current_model: Callable[[], LoadedModel]
    limits: ImageLimits
    gone_errors: tuple[type[Exception], ...] = (LookupError,)
    tagging_enabled: bool = True
    top_k: int = 3
    colour_tags: bool = False
    index_shards: int = DEFAULT_INDEX_SHARDS

    def handle(self, event: ObjectEvent) -> Result:
        """Apply one event; raises for anything transient so the record is retried."""
        started = time.perf_counter()
        if event.kind is EventKind.REMOVED:
            deleted = self.results.delete(event.bucket, event.key, event.order)
            return Result(Outcome.REMOVED if deleted else Outcome.STALE, event.bucket, event.key)

        model = self.current_model()
        existing = self.results.get(event.bucket, event.key)
        reclassify = event.kind is EventKind.RECLASSIFY
        order = str((existing or {}).get(ORDER_ATTRIBUTE, "")) if reclassify else event.order
        decision = decide(
            existing,
            order=order,
            etag=event.etag,
            model_version=model.version,
            reclassify=reclassify,
        )
        if decision is not Decision.PROCEED:
            outcome = Outcome.DUPLICATE if decision is Decision.DUPLICATE else Outcome.STALE
            return Result(outcome, event.bucket, event.key)

        facts = ObjectFacts(
            event.bucket, event.key, event.etag, event.version_id, event.size, order
        )
        try:
            check_size(event.size, self.limits)
            data = self.objects.get(
                event.bucket, event.key, event.version_id, self.limits.max_bytes
            )
            facts = ObjectFacts(
                event.bucket,
                event.key,
                data.etag,
                data.version_id or event.version_id,
                data.size,
                order,
            )
            prepared = prepare_image(data.body, model.spec, self.limits)
            classification = model.classify(prepared.array, self.top_k)
            colours = dominant_colours(prepared.thumbnail)
        except self.gone_errors:
            return Result(Outcome.GONE, event.bucket, event.key)
        except RejectedImageError as error:
            latency_ms = (time.perf_counter() - started) * 1000
            item = rejected_item(
                facts, reason=error.reason, model_version=model.version, latency_ms=latency_ms
            )
            written = self.results.put(item)
            outcome = Outcome.REJECTED if written else Outcome.STALE
            return Result(
                outcome, event.bucket, event.key, reason=error.reason, latency_ms=latency_ms
            )

        # Tags before the item: if tagging fails transiently, the retry finds no item and
        # does the whole job again, so a recorded result always has its tags.
        ours = our_tags(classification.best, model.version)
        if self.colour_tags:
            ours.update(colour_tags(colours))
        tag_state = self._tag(facts, ours)
        latency_ms = (time.perf_counter() - started) * 1000
        item = classified_item(
            facts,
            classification=classification,
            model_version=model.version,
            width=prepared.width,
            height=prepared.height,
            latency_ms=latency_ms,
            tags=tag_state,
            colours=colours,
            index_shards=self.index_shards,
        )
        if not self.results.put(item):
            return Result(Outcome.STALE, event.bucket, event.key)
        best = classification.best
        return Result(
            Outcome.CLASSIFIED,
            event.bucket,
            event.key,
            label=best.label,
            confidence=best.confidence,
            latency_ms=latency_ms,
        )

    def _tag(self, facts: ObjectFacts, ours: dict[str, str]) -> str:
        if not self.tagging_enabled:
            return "disabled"
        # A tag S3 refuses would be refused on every retry, and the image would end in the DLQ
        # although it was classified; so such tags are skipped and the item says why.
        problem = tags_problem(ours)
        if problem:
            return _tags_skipped(facts, problem)
        existing = self.objects.get_tags(facts.bucket, facts.key, facts.version_id)
        merged, state = merge_tags(existing, ours)
        if merged is not None:
            try:
                self.objects.put_tags(facts.bucket, facts.key, facts.version_id, merged)
            except TagsRejectedError as error:
                return _tags_skipped(facts, f"S3 rejected the tags ({error.reason})")
        return state


def _tags_skipped(facts: ObjectFacts, reason: str) -> str:
    logger.warning("tags not written to s3://%s/%s: %s", facts.bucket, facts.key, reason)
    return f"skipped: {reason}"
