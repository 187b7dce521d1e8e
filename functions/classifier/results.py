"""What the function records: result items, the duplicate/stale decision, tag merging.

Pure: the boto3 adapters in adapters.py write what these functions build.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .colours import DominantColour, names_tag_value
from .contracts import (
    DEFAULT_INDEX_SHARDS,
    DEFAULT_TAGS,
    EXPIRES_ATTRIBUTE,
    LABELS_ATTRIBUTE,
    MAX_OBJECT_TAGS,
    OUR_TAGS,
    QUALITY_ATTRIBUTE,
    REMOVED_RETENTION_SECONDS,
    REMOVED_STATUS,
    SECOND_LABEL_ATTRIBUTE,
    TABLE_PARTITION_KEY,
    TAG_NAMES,
    TAG_VALUE_MAX_LENGTH,
    TAG_VALUE_SYMBOLS,
    Status,
    object_pk,
    shard_attributes,
    tag_value_problem,
)
from .hierarchy import GenericLabel
from .model import Classification
from .quality import Quality

ORDER_ATTRIBUTE = "event_order"  # see events.ObjectEvent.order


class Decision(StrEnum):
    """Whether an event needs work, given what the table already records."""

    PROCEED = "proceed"
    DUPLICATE = "duplicate"
    STALE = "stale"


def decide(
    existing: Mapping[str, Any] | None,
    *,
    order: str,
    etag: str | None,
    model_version: str,
    reclassify: bool = False,
) -> Decision:
    """Duplicate: same etag (or a reclassify) and model version already recorded (for a
    rejection, by this same event). Stale: the table records a newer event for the key."""
    if existing is None:
        return Decision.PROCEED
    same_model = existing.get("model_version") == model_version
    if reclassify:
        return Decision.DUPLICATE if same_model else Decision.PROCEED
    existing_order = str(existing.get(ORDER_ATTRIBUTE, ""))
    if existing_order > order:
        return Decision.STALE
    if same_model and etag is not None and existing.get("etag") == etag:
        # A rejection may depend on the object's state, not its bytes (archived, encrypted,
        # access): only a redelivery of the same event repeats it; a new event tries again.
        if existing.get("status") == Status.CLASSIFIED.value or existing_order == order:
            return Decision.DUPLICATE
    return Decision.PROCEED


@dataclass(frozen=True)
class ObjectFacts:
    """What the function learned about one object version."""

    bucket: str
    key: str
    etag: str | None
    version_id: str | None
    size: int | None
    order: str


def now_iso() -> str:
    """UTC now, ISO-8601 with milliseconds: sorts as a string on the GSIs."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _base_item(facts: ObjectFacts, model_version: str, latency_ms: float) -> dict[str, Any]:
    item: dict[str, Any] = {
        TABLE_PARTITION_KEY: object_pk(facts.bucket, facts.key),
        "bucket": facts.bucket,
        "key": facts.key,
        "model_version": model_version,
        "classified_at": now_iso(),
        "latency_ms": _decimal(latency_ms, 1),
        ORDER_ATTRIBUTE: facts.order,
    }
    optional = {"etag": facts.etag, "version_id": facts.version_id, "size": facts.size}
    item.update({name: value for name, value in optional.items() if value is not None})
    return item


def classified_item(
    facts: ObjectFacts,
    *,
    classification: Classification,
    model_version: str,
    width: int,
    height: int,
    latency_ms: float,
    tags: str,
    colours: Sequence[DominantColour] = (),
    quality: Quality | None = None,
    index_shards: int = DEFAULT_INDEX_SHARDS,
) -> dict[str, Any]:
    """A CLASSIFIED item: the top label and its calibrated probability, or `unknown` and the
    evidence for it (see `Classification`), and the labels' own top-k either way (a generic
    model has none: its `label` is its most specific generic label).

    With `colours` (largest first), also the dominant colours; with generic labels, `labels`
    (name -> confidence) and, when the image shows another kind of thing, `second_label`
    (the index by_second_label); with `quality`, its three figures. Each index's partition
    value carries the item's shard of `index_shards` (contracts.shard_attributes).
    """
    best = classification.best
    item = {
        **_base_item(facts, model_version, latency_ms),
        "status": Status.CLASSIFIED.value,
        "label": best.label,
        "confidence": _decimal(best.confidence, 4),
        "top_k": [
            {"label": p.label, "confidence": _decimal(p.confidence, 4)}
            for p in classification.top_k
        ],
        "width": width,
        "height": height,
        "tags": tags,
    }
    if not item["top_k"]:
        del item["top_k"]
    if colours:
        item["colours"] = [colour_map(colour) for colour in colours]
    if classification.generic:
        item[LABELS_ATTRIBUTE] = labels_map(classification.generic)
    if classification.second is not None:
        item[SECOND_LABEL_ATTRIBUTE] = classification.second
    if quality is not None:
        item[QUALITY_ATTRIBUTE] = quality.to_item()
    item.update(shard_attributes(item, index_shards))
    return item


def labels_map(labels: Sequence[GenericLabel]) -> dict[str, Decimal]:
    """Generic labels as the item stores them: name -> confidence to 0.001."""
    return {label.name: _decimal(label.confidence, 3) for label in labels}


def item_labels(item: Mapping[str, Any]) -> list[tuple[str, float]]:
    """An item's generic labels, most confident first (the more specific first on ties is
    not recoverable from the item: ties keep name order)."""
    stored = item.get(LABELS_ATTRIBUTE) or {}
    pairs = [(str(name), float(value)) for name, value in dict(stored).items()]
    return sorted(pairs, key=lambda pair: (-pair[1], pair[0]))


def labels_tag_value(names: Sequence[str], limit: int = TAG_VALUE_MAX_LENGTH) -> str:
    """The `imgclf:labels` value: as many names as fit S3's 256 characters, joined by " / ",
    each with the characters S3 refuses in a tag value turned into spaces."""
    value = ""
    for name in names:
        clean = " ".join(
            "".join(c if c.isalnum() or c == " " or c in TAG_VALUE_SYMBOLS else " " for c in name)
            .replace("/", " ")
            .split()
        )
        if not clean:
            continue
        candidate = f"{value} / {clean}" if value else clean
        if len(candidate.encode("utf-16-le")) // 2 > limit:
            break
        value = candidate
    return value


def colour_map(colour: DominantColour) -> dict[str, Any]:
    """One dominant colour as the item stores it: Lab to 0.1, the pixel share to 0.001."""
    return {
        "name": colour.name,
        "family": colour.family,
        "lab": [_decimal(value, 1) for value in colour.lab],
        "fraction": _decimal(colour.fraction, 3),
    }


def rejected_item(
    facts: ObjectFacts,
    *,
    reason: str,
    model_version: str,
    latency_ms: float,
    index_shards: int = DEFAULT_INDEX_SHARDS,
) -> dict[str, Any]:
    """A REJECTED item with its one-line, human-readable reason; in by_label under
    contracts.REJECTED_PARTITION."""
    item = {
        **_base_item(facts, model_version, latency_ms),
        "status": Status.REJECTED.value,
        "reason": reason,
    }
    item.update(shard_attributes(item, index_shards))
    return item


def removed_item(bucket: str, key: str, order: str, now: float) -> dict[str, Any]:
    """The marker a removal leaves (contracts.REMOVED_STATUS): the key and the removal's
    event order, expiring REMOVED_RETENTION_SECONDS after `now` (epoch seconds)."""
    return {
        TABLE_PARTITION_KEY: object_pk(bucket, key),
        "bucket": bucket,
        "key": key,
        "status": REMOVED_STATUS,
        ORDER_ATTRIBUTE: order,
        EXPIRES_ATTRIBUTE: int(now) + REMOVED_RETENTION_SECONDS,
    }


# What makes two items the same result: one event order, one object, one model's verdict.
# What makes two items one event's result with one model (what the table's write condition
# refuses as already written), and then the same result.
_EVENT_IDENTITY = (ORDER_ATTRIBUTE, "etag", "model_version")
_RESULT_IDENTITY = (*_EVENT_IDENTITY, "status", "label")


@dataclass(frozen=True)
class Write:
    """What a conditional item write did: it wrote the item (or this very write had already
    applied), or the table refused it and holds `current` instead (None: no item)."""

    written: bool
    current: dict[str, Any] | None = None


def same_event(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two items record one event with one model: what the table's write condition
    refuses as already written (besides any newer event)."""
    return all(a.get(name) == b.get(name) for name in _EVENT_IDENTITY)


def same_result(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two items record the same result (the table's copy may be read back later)."""
    return all(a.get(name) == b.get(name) for name in _RESULT_IDENTITY)


def tags_of_item(
    item: Mapping[str, Any], names: Collection[str] = DEFAULT_TAGS
) -> dict[str, str] | None:
    """Our tags as an item says they should be: of a CLASSIFIED item's label, confidence,
    model and colours, those `names` lists (TAG_NAMES); none of ours for a REJECTED one.
    None: the item says its tags were skipped or tagging is disabled, so the object's tags
    are left alone."""
    if item.get("status") != Status.CLASSIFIED.value:
        return {}
    if item.get("tags") != "applied":
        return None
    values = {
        "label": str(item["label"]),
        "confidence": f"{float(item['confidence']):.4f}",
        "model": str(item["model_version"]),
    }
    colours = item.get("colours") or []
    if colours:
        values["colours"] = names_tag_value(str(colour["name"]) for colour in colours)
    labels = item_labels(item)
    if labels:
        values["labels"] = labels_tag_value([name for name, _ in labels])
    return {tag: values[name] for name, tag in TAG_NAMES.items() if name in names & values.keys()}


def tags_problem(ours: Mapping[str, str]) -> str | None:
    """Why S3 would refuse one of our tag values (model.json may hold any label), or None."""
    for key, value in ours.items():
        problem = tag_value_problem(value)
        if problem:
            shown = value if len(value) <= 40 else value[:40] + "…"
            return f"{key} {shown!r} is not a valid S3 tag value: {problem}"
    return None


def merge_tags(
    existing: Sequence[Mapping[str, str]], ours: Mapping[str, str]
) -> tuple[list[dict[str, str]] | None, str]:
    """The full tag set to put (user tags kept, ours replaced) and how tagging went.

    None means: leave the object's tags alone (no room, or already as wanted).
    """
    user = [{"Key": t["Key"], "Value": t["Value"]} for t in existing if t["Key"] not in OUR_TAGS]
    if len(user) + len(ours) > MAX_OBJECT_TAGS:
        skipped = (
            f"skipped: the object has {len(user)} user tags, "
            f"no room for {len(ours)} more within S3's {MAX_OBJECT_TAGS}"
        )
        if len(user) < len(existing):  # an earlier result's tags would contradict the item
            return user, skipped + " (the earlier imgclf tags are removed)"
        return None, skipped
    merged = user + [{"Key": key, "Value": value} for key, value in ours.items()]
    if _as_set(merged) == _as_set(existing):
        return None, "applied"
    return merged, "applied"


def _as_set(tags: Sequence[Mapping[str, str]]) -> set[tuple[str, str]]:
    return {(t["Key"], t["Value"]) for t in tags}


def _decimal(value: float, places: int) -> Decimal:
    return Decimal(str(round(float(value), places)))
