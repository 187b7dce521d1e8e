"""The core: one object event in, one outcome out. The failure policy is decided here.

permanent (bad image, an object S3 will never let us read)
                             -> REJECTED item, acknowledged
tags S3 will not store       -> CLASSIFIED item, `tags` says why they were skipped; acknowledged
gone (deleted since the event)              -> nothing written, acknowledged
changed (overwritten since the event), stale, duplicate
                             -> nothing written, acknowledged (the newer event records it)
transient (anything raised)  -> the caller reports the record failed; the queue retries, then DLQ
noise                        -> handled by events.parse_body (no events)

Ordering, so that any interleaving of retries, duplicates and races ends with the table and
the tags describing each key's current object (docs/architecture.md, "Faults"):
- the GET reads the key's current object, on condition that it is still the event's
  (If-Match on the event's etag): a late event never records an object it did not announce;
- the item is written first (conditional on the event order), the tags after, and the item
  is read again: if a newer result landed meanwhile, the tags are made to match it. So the
  last tag write always follows the last item write;
- a duplicate with a newer event order advances the item's order, so that an older delete
  cannot remove it, and re-applies the tags (its first delivery may have died before them);
- a removal leaves a marker with its event order instead of no item, so that a create that
  read the object before the delete and writes after it is refused as older;
- an upload's first delivery skips the read before the work: the write's condition refuses a
  duplicate or a stale result, and a refused write whose table item records this very event
  is a duplicate after all (tags re-applied). Retries read first.

Adapters come in as arguments (ports below), so this module has no AWS dependency.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol

from .colours import dominant_colours
from .contracts import DEFAULT_INDEX_SHARDS, DEFAULT_TAGS
from .events import EventKind, ObjectEvent
from .hierarchy import LabelSettings
from .imaging import ImageLimits, RejectedImageError, check_size, prepare_image
from .model import LoadedModel
from .quality import image_quality
from .results import (
    ORDER_ATTRIBUTE,
    Decision,
    ObjectFacts,
    Write,
    classified_item,
    decide,
    merge_tags,
    rejected_item,
    same_event,
    same_result,
    tags_of_item,
    tags_problem,
)

logger = logging.getLogger(__name__)


class TagsRejectedError(ValueError):
    """S3 refused the tag set itself (not a throttle or an outage): retrying cannot help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ObjectChangedError(Exception):
    """The object is no longer the one the event announced (a newer write replaced it)."""


class TagSyncError(RuntimeError):
    """Newer results kept landing while the tags were being matched to them: retry later."""


class ObjectReader(Protocol):
    """Reads image bytes and reads/writes object tags.

    `get` reads the key's current object; with `expected_etag` it raises `ObjectChangedError`
    if that is not the object's etag. What it returns has `body`, `etag`, `version_id`,
    `size` and `tag_count` (how many tags the object had when read; None if unknown).
    `current_etag` is None when the key has no object.
    `put_tags` raises `TagsRejectedError` when S3 refuses the tags themselves, and anything
    else for faults worth a retry.
    """

    def get(self, bucket: str, key: str, expected_etag: str | None, max_bytes: int) -> Any: ...

    def current_etag(self, bucket: str, key: str) -> str | None: ...

    def get_tags(self, bucket: str, key: str, version_id: str | None) -> list[dict[str, str]]: ...

    def put_tags(
        self, bucket: str, key: str, version_id: str | None, tags: list[dict[str, str]]
    ) -> None: ...


class ResultStore(Protocol):
    """The results table."""

    def get(self, bucket: str, key: str) -> dict[str, Any] | None:
        """The key's item; None if it has none, or only the marker a removal left."""
        ...

    def write(self, item: dict[str, Any]) -> Write: ...

    def remove(self, bucket: str, key: str, order: str) -> bool:
        """Replace the item with a marker of the removal unless it records a newer event;
        an older event's write is then refused (contracts.REMOVED_STATUS)."""
        ...

    def advance(self, item: dict[str, Any], order: str) -> bool: ...

    def record_tags(self, item: dict[str, Any], state: str) -> bool: ...


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
    # The live model; given a version (a reclassify's), one that is not it yet re-reads the
    # pointer rather than wait out its refresh.
    current_model: Callable[..., LoadedModel]
    limits: ImageLimits
    gone_errors: tuple[type[Exception], ...] = (LookupError,)
    tag_names: frozenset[str] = DEFAULT_TAGS  # which of our tags are written; none: no tagging
    top_k: int = 3
    index_shards: int = DEFAULT_INDEX_SHARDS
    labelling: LabelSettings = LabelSettings()  # which generic labels an item keeps

    @property
    def tagging_enabled(self) -> bool:
        return bool(self.tag_names)

    def handle(self, event: ObjectEvent, *, first_delivery: bool = False) -> Result:
        """Apply one event; raises for anything transient so the record is retried.

        The item is read first, so that a duplicate or a stale event costs no GET and no
        inference, except for an upload's first delivery (`first_delivery`: the queue's
        receive count is 1), which is almost never either: its conditional write decides,
        and a refused write is then told apart (`_refused`). That saves a read per image;
        a retry, which follows a fault and may find its work half done, reads first."""
        started = time.perf_counter()
        write_first = first_delivery and event.kind is EventKind.CREATED
        if event.kind is EventKind.REMOVED:
            current = (
                self.objects.current_etag(event.bucket, event.key)
                if event.removes_version
                else None
            )
            if current is None:
                removed = self.results.remove(event.bucket, event.key, event.order)
                return Result(
                    Outcome.REMOVED if removed else Outcome.STALE, event.bucket, event.key
                )
            # One version went and the key still has a current one: that one is recorded.
            event = replace(event, kind=EventKind.CREATED, etag=current)

        model = (
            self.current_model(event.model_version) if event.model_version else self.current_model()
        )
        existing = None if write_first else self.results.get(event.bucket, event.key)
        reclassify = event.kind is EventKind.RECLASSIFY
        order = str((existing or {}).get(ORDER_ATTRIBUTE, "")) if reclassify else event.order
        decision = decide(
            existing,
            order=order,
            etag=event.etag,
            model_version=model.version,
            reclassify=reclassify,
        )
        if decision is Decision.STALE:
            return Result(Outcome.STALE, event.bucket, event.key)
        if decision is Decision.DUPLICATE:
            assert existing is not None
            if not reclassify and str(existing.get(ORDER_ATTRIBUTE, "")) < order:
                self.results.advance(existing, order)
            self._sync_tags(existing)
            return Result(Outcome.DUPLICATE, event.bucket, event.key)

        # A reclassify reads the object the item recorded; an event, the object it announced.
        expected_etag = (existing or {}).get("etag") if reclassify else event.etag
        facts = ObjectFacts(
            event.bucket, event.key, event.etag, event.version_id, event.size, order
        )
        tag_count: int | None = None
        try:
            check_size(event.size, self.limits)
            data = self.objects.get(event.bucket, event.key, expected_etag, self.limits.max_bytes)
            facts = ObjectFacts(
                event.bucket, event.key, data.etag, data.version_id, data.size, order
            )
            tag_count = data.tag_count
            prepared = prepare_image(data.body, model.spec, self.limits)
            classification = model.classify(prepared.array, self.top_k, self.labelling)
            colours = dominant_colours(prepared.thumbnail)
            quality = image_quality(prepared.array)
        except ObjectChangedError:
            return Result(Outcome.STALE, event.bucket, event.key)
        except self.gone_errors:
            if reclassify and existing is not None:
                # Deleted with no removal event to say so (one still queued writes a newer
                # marker): the item would otherwise be counted and re-enqueued for good.
                self.results.remove(event.bucket, event.key, order)
            return Result(Outcome.GONE, event.bucket, event.key)
        except RejectedImageError as error:
            item = rejected_item(
                facts, reason=error.reason, model_version=model.version,
                latency_ms=_since(started), index_shards=self.index_shards,
            )  # fmt: skip
            return self._record_rejection(item, error.reason)

        item = classified_item(
            facts,
            classification=classification,
            model_version=model.version,
            width=prepared.width,
            height=prepared.height,
            latency_ms=_since(started),
            tags="applied",
            colours=colours,
            quality=quality,
            index_shards=self.index_shards,
        )
        return self._record_classification(facts, item, tag_count)

    def _refused(self, item: dict[str, Any], current: dict[str, Any] | None) -> Result:
        """The table refused `item` and holds `current`: a newer event's result (stale), or
        this very event's (a duplicate the read before did not see: a first delivery is
        not read first, and another delivery may land in between), whose tags are then
        made right as a duplicate's are."""
        bucket, key = str(item["bucket"]), str(item["key"])
        if current is not None and same_event(current, item):
            self._sync_tags(current)
            return Result(Outcome.DUPLICATE, bucket, key)
        return Result(Outcome.STALE, bucket, key)

    def _record_rejection(self, item: dict[str, Any], reason: str) -> Result:
        bucket, key = str(item["bucket"]), str(item["key"])
        write = self.results.write(item)
        if not write.written:
            return self._refused(item, write.current)
        self._sync_tags(item)  # an earlier result's tags must not outlive it
        latency_ms = float(item["latency_ms"])
        return Result(Outcome.REJECTED, bucket, key, reason=reason, latency_ms=latency_ms)

    def _record_classification(
        self, facts: ObjectFacts, item: dict[str, Any], tag_count: int | None
    ) -> Result:
        """The item first, then its tags, then a check: a stale result never touches the tags,
        and a result that lands meanwhile gets the tags it says."""
        plan = self._plan_tags(facts, item, tag_count)
        item["tags"] = plan.state
        write = self.results.write(item)
        if not write.written:
            return self._refused(item, write.current)
        if plan.tags is not None:
            try:
                self.objects.put_tags(facts.bucket, facts.key, facts.version_id, plan.tags)
            except TagsRejectedError as error:
                # Rare: S3 refused what tags_problem allowed. The item says so.
                state = _tags_skipped(facts, f"S3 rejected the tags ({error.reason})")
                if self.results.record_tags(item, state):
                    item = {**item, "tags": state}
            else:
                self._confirm(item)
        return Result(
            Outcome.CLASSIFIED,
            facts.bucket,
            facts.key,
            label=str(item["label"]),
            confidence=float(item["confidence"]),
            latency_ms=float(item["latency_ms"]),
        )

    def _plan_tags(
        self, facts: ObjectFacts, item: dict[str, Any], tag_count: int | None
    ) -> TagPlan:
        """The tag set to write after the item (None: leave the tags) and the item's `tags`.

        The object's tags are read only if the GET said it has some: with none, the set to
        put is ours alone. (Either way they are read before the item write, so a tag a user
        adds between that read and our write is lost: PutObjectTagging replaces the set and
        has no condition. The GET only moves the read earlier by the inference time.)
        """
        ours = tags_of_item(item, self.tag_names)
        if not self.tagging_enabled or ours is None:
            return TagPlan(None, "disabled")
        # A tag S3 refuses would be refused on every retry, and the image would end in the DLQ
        # although it was classified; so such tags are skipped and the item says why.
        problem = tags_problem(ours)
        if problem:
            return TagPlan(None, _tags_skipped(facts, problem))
        existing = (
            []
            if tag_count == 0
            else self.objects.get_tags(facts.bucket, facts.key, facts.version_id)
        )
        merged, state = merge_tags(existing, ours)
        return TagPlan(merged, state)

    def _confirm(self, item: dict[str, Any]) -> None:
        """After tagging: if a newer result replaced `item` meanwhile, match the tags to it."""
        if not self.tagging_enabled:
            return
        current = self.results.get(str(item["bucket"]), str(item["key"]))
        if current is not None and not same_result(current, item):
            self._sync_tags(current)

    def _sync_tags(self, item: dict[str, Any]) -> None:
        """Make the object's imgclf tags say what `item` says. After each tag write the item
        is read again, and followed if a newer result replaced it; no write, no re-read."""
        if not self.tagging_enabled:
            return
        bucket, key = str(item["bucket"]), str(item["key"])
        for _ in range(TAG_SYNC_ROUNDS):
            wanted = tags_of_item(item, self.tag_names)
            if wanted is None:
                return  # the item says its tags were skipped or are not ours to write
            version = item.get("version_id")
            try:
                merged, _ = merge_tags(self.objects.get_tags(bucket, key, version), wanted)
                if merged is None:
                    return  # already right (or no room, as the item says)
                self.objects.put_tags(bucket, key, version, merged)
            except TagsRejectedError:
                return  # S3 refuses this set; the item's `tags` says so
            except self.gone_errors:
                return  # the version is gone: no tags to keep right
            current = self.results.get(bucket, key)
            if current is None or same_result(current, item):
                return
            item = current
        raise TagSyncError(f"s3://{bucket}/{key}: results kept changing while tagging")


TAG_SYNC_ROUNDS = 5


@dataclass(frozen=True)
class TagPlan:
    """The tag set to put after the item write (None: none) and what the item records."""

    tags: list[dict[str, str]] | None
    state: str


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _tags_skipped(facts: ObjectFacts, reason: str) -> str:
    logger.warning("tags not written to s3://%s/%s: %s", facts.bucket, facts.key, reason)
    return f"skipped: {reason}"
