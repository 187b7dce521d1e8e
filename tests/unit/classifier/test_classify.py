"""The failure policy, every path: the core with in-memory adapters and the real tiny model."""

from __future__ import annotations

import dataclasses
import io
import itertools
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image

from classifier.classify import Classifier, ObjectChangedError, Outcome, TagsRejectedError
from classifier.contracts import is_removed, reclassify_message, sharded_value
from classifier.events import EventKind, ObjectEvent, parse_body
from classifier.imaging import ImageLimits
from classifier.model import LoadedModel, ModelUnavailableError
from classifier.results import Write, removed_item


def png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), colour).save(buffer, "PNG")
    return buffer.getvalue()


class MemoryObjects:
    """The images bucket in memory; `failure` makes every call raise (a transient fault)."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.tags: dict[str, list[dict[str, str]]] = {}
        self.gets = 0
        self.tag_reads = 0
        self.tag_writes = 0
        self.failure: Exception | None = None
        self.tag_failure: Exception | None = None
        self.before_put_tags: Any = None  # a race to run just before a tag write
        self.after_get: Any = None  # a race to run after the GET read the object

    def get(self, bucket: str, key: str, expected_etag: str | None, max_bytes: int) -> Any:
        self.gets += 1
        if self.failure:
            raise self.failure
        if key not in self.objects:
            raise LookupError(key)
        body, etag = self.objects[key]
        if expected_etag is not None and etag != expected_etag:
            raise ObjectChangedError(key)
        tag_count = len(self.tags.get(key, []))  # as S3's x-amz-tagging-count
        if self.after_get is not None:
            race, self.after_get = self.after_get, None
            race()
        return SimpleNamespace(
            body=body, etag=etag, version_id=None, size=len(body), tag_count=tag_count
        )

    def current_etag(self, bucket: str, key: str) -> str | None:
        return self.objects[key][1] if key in self.objects else None

    def get_tags(self, bucket: str, key: str, version_id: str | None) -> list[dict[str, str]]:
        self.tag_reads += 1
        return list(self.tags.get(key, []))

    def put_tags(
        self, bucket: str, key: str, version_id: str | None, tags: list[dict[str, str]]
    ) -> None:
        if self.tag_failure:
            raise self.tag_failure
        if self.before_put_tags is not None:
            race, self.before_put_tags = self.before_put_tags, None
            race()
        self.tag_writes += 1
        self.tags[key] = tags


class MemoryResults:
    """The results table in memory, with the same ordering condition as the DynamoDB adapter."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.puts = 0
        self.reads = 0

    def get(self, bucket: str, key: str) -> dict[str, Any] | None:
        self.reads += 1
        item = self.items.get(key)
        return None if is_removed(item) else item

    def write(self, item: dict[str, Any]) -> Write:
        existing = self.items.get(item["key"])
        if existing and (
            existing["event_order"] > item["event_order"]
            or existing["event_order"] == item["event_order"]
            and (existing.get("model_version"), existing.get("etag"))
            == (item["model_version"], item.get("etag"))
        ):
            current = None if is_removed(existing) else dict(existing)
            return Write(existing == item, current)
        self.puts += 1
        self.items[item["key"]] = dict(item)
        return Write(True)

    def record_tags(self, item: dict[str, Any], state: str) -> bool:
        existing = self.items.get(item["key"])
        if existing is None or existing["event_order"] != item["event_order"]:
            return False
        existing["tags"] = state
        return True

    def advance(self, item: dict[str, Any], order: str) -> bool:
        existing = self.items.get(item["key"])
        if existing is None or existing["event_order"] >= order:
            return False
        existing["event_order"] = order
        return True

    def remove(self, bucket: str, key: str, order: str) -> bool:
        existing = self.items.get(key)
        if existing and existing["event_order"] > order:
            return False
        self.items[key] = removed_item(bucket, key, order, now=0)
        return True


@pytest.fixture
def tiny(tiny_model_dir: Path) -> LoadedModel:
    return LoadedModel.from_directory(tiny_model_dir)


@pytest.fixture
def world(tiny: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    # Each item is stamped a millisecond after the one before. Two sub-millisecond attempts
    # could otherwise build equal items, and a stored item equal to the one being written
    # is this very write (its answer lost), not a duplicate: the outcome would then depend
    # on the machine's speed.
    ticks = itertools.count()
    monkeypatch.setattr(
        "classifier.results.now_iso", lambda: f"2026-12-07T12:00:{next(ticks) / 1000:06.3f}Z"
    )
    objects, results = MemoryObjects(), MemoryResults()
    state = SimpleNamespace(objects=objects, results=results, model=tiny)
    state.classifier = Classifier(
        objects=objects, results=results, current_model=lambda: state.model, limits=ImageLimits()
    )
    return state


def created(key: str, *, etag: str = "e1", time: str = "T1", size: int | None = 100) -> ObjectEvent:
    return ObjectEvent(EventKind.CREATED, "images", key, "ObjectCreated:Put", time, size, etag)


def test_image_is_classified_recorded_and_tagged(world: SimpleNamespace) -> None:
    world.objects.objects["cat.png"] = (png((220, 30, 30)), "e1")
    world.objects.tags["cat.png"] = [{"Key": "owner", "Value": "ana"}]
    result = world.classifier.handle(created("cat.png"))
    assert result.outcome is Outcome.CLASSIFIED and result.label == "red"
    item = world.results.items["cat.png"]
    assert item["status"] == "CLASSIFIED" and item["label"] == "red" and item["tags"] == "applied"
    assert (item["width"], item["height"], item["model_version"]) == (40, 40, "tiny-v1")
    tags = {t["Key"]: t["Value"] for t in world.objects.tags["cat.png"]}
    assert (
        tags["owner"] == "ana"
        and tags["imgclf:label"] == "red"
        and tags["imgclf:model"] == "tiny-v1"
    )


def test_bad_image_is_rejected_with_a_reason_and_acknowledged(world: SimpleNamespace) -> None:
    world.objects.objects["notes.jpg"] = (b"just some text", "e1")
    result = world.classifier.handle(created("notes.jpg"))
    assert result.outcome is Outcome.REJECTED
    item = world.results.items["notes.jpg"]
    assert item["status"] == "REJECTED" and item["reason"].startswith("not a recognised image")
    assert world.objects.tag_writes == 0
    # And it is on the rejects' shard of by_label for the classifier's shard count
    world.classifier.index_shards = 16
    world.objects.objects["more.jpg"] = (b"more text", "e1")
    world.classifier.handle(created("more.jpg"))
    assert world.results.items["more.jpg"]["label_shard"] == sharded_value(
        "!rejected", "images/more.jpg", 16
    )


def test_oversized_object_is_rejected_from_the_event_without_downloading(
    world: SimpleNamespace,
) -> None:
    world.classifier.limits = ImageLimits(max_bytes=1000)
    result = world.classifier.handle(created("huge.jpg", size=10**9))
    assert result.outcome is Outcome.REJECTED and "over the" in (result.reason or "")
    assert world.objects.gets == 0


def test_duplicate_delivery_writes_nothing_and_changes_no_tags(world: SimpleNamespace) -> None:
    world.objects.objects["a.png"] = (png((30, 40, 220)), "e1")
    world.classifier.handle(created("a.png"))
    puts, tag_writes, gets = world.results.puts, world.objects.tag_writes, world.objects.gets
    assert world.classifier.handle(created("a.png")).outcome is Outcome.DUPLICATE
    assert (world.results.puts, world.objects.tag_writes, world.objects.gets) == (
        puts,
        tag_writes,
        gets,
    )


def test_older_event_never_overwrites_a_newer_result(world: SimpleNamespace) -> None:
    world.objects.objects["a.png"] = (png((30, 40, 220)), "e2")
    world.classifier.handle(created("a.png", etag="e2", time="T2"))
    assert world.classifier.handle(created("a.png", etag="e1", time="T1")).outcome is Outcome.STALE
    assert world.results.items["a.png"]["etag"] == "e2"


def test_removed_object_deletes_its_result(world: SimpleNamespace) -> None:
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")
    world.classifier.handle(created("a.png"))
    removed = ObjectEvent(EventKind.REMOVED, "images", "a.png", "ObjectRemoved:Delete", "T2")
    assert world.classifier.handle(removed).outcome is Outcome.REMOVED
    assert world.results.get("images", "a.png") is None
    assert is_removed(world.results.items["a.png"])


@pytest.mark.parametrize("first_delivery", [True, False])
def test_an_object_deleted_while_it_is_classified_keeps_no_result(
    world: SimpleNamespace, first_delivery: bool
) -> None:
    # Given an upload whose object is deleted while the function classifies it: the GET has
    # read it, and the delete's event is handled before the item is written
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")
    removed = ObjectEvent(EventKind.REMOVED, "images", "a.png", "ObjectRemoved:Delete", "T2")

    def delete_now() -> None:
        del world.objects.objects["a.png"]
        assert world.classifier.handle(removed).outcome is Outcome.REMOVED

    world.objects.after_get = delete_now
    # When the upload's event finishes, its result is refused as older than the removal
    upload = created("a.png", time="T1")
    outcome = world.classifier.handle(upload, first_delivery=first_delivery).outcome
    assert outcome is Outcome.STALE
    # Then the key has no result, and no tags were written
    assert world.results.get("images", "a.png") is None
    assert world.objects.tag_writes == 0
    # And a redelivery finds the object gone; a new upload of the key is recorded
    assert world.classifier.handle(upload).outcome is Outcome.GONE
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e3")
    assert world.classifier.handle(created("a.png", etag="e3", time="T3")).outcome is (
        Outcome.CLASSIFIED
    )
    assert world.results.get("images", "a.png")["etag"] == "e3"


def test_object_deleted_before_processing_is_acknowledged_without_a_write(
    world: SimpleNamespace,
) -> None:
    assert world.classifier.handle(created("gone.png")).outcome is Outcome.GONE
    assert world.results.items == {}


@pytest.mark.parametrize("where", ["get", "model"])
def test_transient_faults_propagate_so_the_record_is_retried(
    world: SimpleNamespace, where: str
) -> None:
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")
    fault = ConnectionError("503 Slow Down")
    if where == "get":
        world.objects.failure = fault
    else:

        def no_model() -> LoadedModel:
            raise ModelUnavailableError("no model promoted")

        world.classifier.current_model = no_model
    with pytest.raises((ConnectionError, ModelUnavailableError)):
        world.classifier.handle(created("a.png"))
    assert world.results.items == {}  # nothing half-recorded: the retry does the whole job


def test_reclassify_writes_only_for_a_newer_model(
    world: SimpleNamespace, tiny: LoadedModel
) -> None:
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")
    world.classifier.handle(created("a.png"))
    again = ObjectEvent(EventKind.RECLASSIFY, "images", "a.png")
    assert world.classifier.handle(again).outcome is Outcome.DUPLICATE
    world.model = LoadedModel(tiny._model_bytes, dataclasses.replace(tiny.metadata, version="v2"))
    assert world.classifier.handle(again).outcome is Outcome.CLASSIFIED
    item = world.results.items["a.png"]
    assert item["model_version"] == "v2" and item["event_order"] == created("a.png").order


def test_a_reclassify_asks_for_the_version_it_was_sent_for(
    world: SimpleNamespace, tiny: LoadedModel
) -> None:
    # The model store serves a cached pointer for a minute: a reclassify sent right after a
    # promotion must say which version it is for, or it is classified by the old one again
    newer = LoadedModel(tiny._model_bytes, dataclasses.replace(tiny.metadata, version="v2"))
    asked: list[str | None] = []

    def store(wanted: str | None = None) -> LoadedModel:
        asked.append(wanted)
        return newer if wanted == "v2" else tiny

    world.classifier.current_model = store
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")
    world.classifier.handle(created("a.png"))
    [again] = parse_body(reclassify_message("images", "a.png", "v2"))
    assert world.classifier.handle(again).outcome is Outcome.CLASSIFIED
    assert asked == [None, "v2"]
    assert world.results.items["a.png"]["model_version"] == "v2"


def test_a_reclassify_that_finds_its_object_gone_removes_the_item(
    world: SimpleNamespace, tiny: LoadedModel
) -> None:
    # Given an item whose object went with no removal event to say so (a lifecycle expiry
    # before the bucket sent those): it stayed, and every promotion re-enqueued it
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")
    world.classifier.handle(created("a.png"))
    del world.objects.objects["a.png"]
    world.model = LoadedModel(tiny._model_bytes, dataclasses.replace(tiny.metadata, version="v2"))
    # When it is reclassified
    result = world.classifier.handle(ObjectEvent(EventKind.RECLASSIFY, "images", "a.png"))
    # Then it is gone, and the item is a removal's marker under the recorded order
    assert result.outcome is Outcome.GONE
    item = world.results.items["a.png"]
    assert is_removed(item) and item["event_order"] == created("a.png").order


def test_tagging_can_be_switched_off(world: SimpleNamespace) -> None:
    world.classifier.tag_names = frozenset()
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")
    world.classifier.handle(created("a.png"))
    assert world.results.items["a.png"]["tags"] == "disabled" and world.objects.tag_writes == 0
    assert world.objects.tag_reads == 0


def test_an_object_the_get_reports_untagged_is_tagged_without_reading_its_tags(
    world: SimpleNamespace,
) -> None:
    # Given one object without tags and one with a user tag
    world.objects.objects["bare.png"] = (png((220, 30, 30)), "e1")
    world.objects.objects["tagged.png"] = (png((220, 30, 30)), "e1")
    world.objects.tags["tagged.png"] = [{"Key": "owner", "Value": "ana"}]
    # When both are classified
    world.classifier.handle(created("bare.png"))
    assert world.objects.tag_reads == 0
    world.classifier.handle(created("tagged.png"))
    # Then the untagged one is tagged with ours alone, without a GetObjectTagging; the tagged
    # one's tags are read (one call) and merged
    assert world.objects.tag_reads == 1
    assert {t["Key"] for t in world.objects.tags["bare.png"]} == {
        "imgclf:label", "imgclf:confidence", "imgclf:model",
    }  # fmt: skip
    assert {"Key": "owner", "Value": "ana"} in world.objects.tags["tagged.png"]


def test_the_tags_setting_picks_which_of_our_tags_are_written(world: SimpleNamespace) -> None:
    # Given an object tagged by an earlier model with all three of our tags, and a user tag
    world.objects.objects["a.png"] = (png((220, 30, 30)), "e1")
    world.classifier.handle(created("a.png"))
    world.objects.tags["a.png"].append({"Key": "owner", "Value": "ana"})
    # When a newer model classifies it while only the label is asked for
    world.classifier.tag_names = frozenset({"label"})
    world.model = LoadedModel(
        world.model._model_bytes, dataclasses.replace(world.model.metadata, version="v2")
    )
    assert world.classifier.handle(created("a.png")).outcome is Outcome.CLASSIFIED
    # Then the object carries the label and the user's tag; the other two of ours are gone
    tags = {t["Key"]: t["Value"] for t in world.objects.tags["a.png"]}
    assert tags == {"imgclf:label": "red", "owner": "ana"}


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        (
            "labels",
            ("noir?", "green", "blue"),
            "imgclf:label 'noir?' is not a valid S3 tag value: '?'",
        ),
        ("version", "v1 (hand)", "imgclf:model 'v1 (hand)' is not a valid S3 tag value: '('"),
    ],
)
def test_tag_value_s3_cannot_store_is_never_sent_and_the_item_says_why(
    world: SimpleNamespace, tiny: LoadedModel, field: str, value: object, why: str
) -> None:
    # Given a model whose label or version S3 would refuse as a tag value (an old model.json)
    world.model = LoadedModel(
        tiny._model_bytes,
        dataclasses.replace(tiny.metadata, **{field: value}),  # type: ignore[arg-type]
    )
    world.objects.objects["cat.png"] = (png((220, 30, 30)), "e1")
    world.objects.tags["cat.png"] = [{"Key": "owner", "Value": "ana"}]
    world.objects.tag_failure = AssertionError("put_tags must not be called")
    # When the image is handled
    result = world.classifier.handle(created("cat.png"))
    # Then it is classified and acknowledged, S3 is not asked, and the item says why
    assert result.outcome is Outcome.CLASSIFIED
    item = world.results.items["cat.png"]
    assert item["status"] == "CLASSIFIED" and item["tags"].startswith(f"skipped: {why}")
    assert world.objects.tag_writes == 0
    assert world.objects.tags["cat.png"] == [{"Key": "owner", "Value": "ana"}]


def test_tags_s3_rejects_are_recorded_as_skipped_and_the_record_acknowledged(
    world: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an S3 that refuses the tag set itself, which no retry can change
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")
    world.objects.tag_failure = TagsRejectedError(
        "InvalidTag: The TagValue you have provided is invalid"
    )
    # When the image is handled, nothing is raised
    result = world.classifier.handle(created("a.png"))
    # Then the result is recorded as usual, with the reason in `tags`
    assert result.outcome is Outcome.CLASSIFIED and result.label == "green"
    item = world.results.items["a.png"]
    assert item["status"] == "CLASSIFIED" and item["label"] == "green"
    assert item["tags"] == (
        "skipped: S3 rejected the tags (InvalidTag: The TagValue you have provided is invalid)"
    )
    assert [r.levelname for r in caplog.records if "s3://images/a.png" in r.getMessage()] == [
        "WARNING"
    ]


def test_throttled_tagging_raises_and_the_retry_applies_the_tags(world: SimpleNamespace) -> None:
    # Given tagging that fails transiently once the item is written
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")
    world.objects.tag_failure = TimeoutError("SlowDown: Please reduce your request rate")
    # When the record is handled, the fault propagates (the record is retried)
    with pytest.raises(TimeoutError):
        world.classifier.handle(created("a.png"))
    assert world.results.items["a.png"]["label"] == "green"
    # Then the retry is a duplicate that needs no GET, and it applies the missing tags
    world.objects.tag_failure = None
    gets = world.objects.gets
    assert world.classifier.handle(created("a.png")).outcome is Outcome.DUPLICATE
    assert world.objects.gets == gets
    assert {t["Key"]: t["Value"] for t in world.objects.tags["a.png"]}["imgclf:label"] == "green"


def test_an_event_for_an_object_since_replaced_records_nothing(world: SimpleNamespace) -> None:
    # Given an event for etag e1 that arrives after the key was overwritten (now e2)
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e2")
    # When the late event is handled
    result = world.classifier.handle(created("a.png", etag="e1", time="T1"))
    # Then it records nothing and touches no tags: the newer event will record e2
    assert result.outcome is Outcome.STALE
    assert world.results.items == {} and world.objects.tag_writes == 0


def test_a_result_that_lands_while_tagging_wins_the_tags(world: SimpleNamespace) -> None:
    # Given an older event whose result is written, and a newer result for the same key
    # that lands (item and tags) just before the older one writes its tags
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")

    def newer_result_lands() -> None:
        world.objects.objects["a.png"] = (png((220, 30, 30)), "e2")
        newer = Classifier(
            objects=world.objects, results=world.results,
            current_model=lambda: world.model, limits=ImageLimits(),
        )  # fmt: skip
        assert newer.handle(created("a.png", etag="e2", time="T2")).outcome is Outcome.CLASSIFIED

    world.objects.before_put_tags = newer_result_lands
    # When the older event finishes after it
    world.classifier.handle(created("a.png", etag="e1", time="T1"))
    # Then the table and the tags both describe the newer object
    item = world.results.items["a.png"]
    tags = {t["Key"]: t["Value"] for t in world.objects.tags["a.png"]}
    assert (item["etag"], item["label"]) == ("e2", "red")
    assert tags["imgclf:label"] == "red"


def test_a_newer_duplicate_advances_the_order_so_an_older_delete_keeps_the_item(
    world: SimpleNamespace,
) -> None:
    # Given an item recorded by the event at T1, and the same bytes uploaded again at T3
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")
    world.classifier.handle(created("a.png", time="T1"))
    assert world.classifier.handle(created("a.png", time="T3")).outcome is Outcome.DUPLICATE
    # When the delete at T2, between them, arrives late
    removed = ObjectEvent(EventKind.REMOVED, "images", "a.png", "ObjectRemoved:Delete", "T2")
    # Then it is stale: the object uploaded at T3 keeps its result
    assert world.classifier.handle(removed).outcome is Outcome.STALE
    assert world.results.items["a.png"]["event_order"] == created("a.png", time="T3").order


def test_removing_one_version_of_a_key_that_lives_on_keeps_its_result(
    world: SimpleNamespace,
) -> None:
    # Given a versioned key whose older version is deleted while the current one remains
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e2")
    world.classifier.handle(created("a.png", etag="e2", time="T1"))
    removed = ObjectEvent(
        EventKind.REMOVED, "images", "a.png", "ObjectRemoved:Delete", "T2", version_id="v-old"
    )
    # When the removal is handled, the key is recorded again instead of deleted
    assert world.classifier.handle(removed).outcome is Outcome.DUPLICATE
    assert world.results.items["a.png"]["etag"] == "e2"
    # And a delete marker (the key is gone) still deletes the result
    del world.objects.objects["a.png"]
    marker = ObjectEvent(
        EventKind.REMOVED, "images", "a.png", "ObjectRemoved:DeleteMarkerCreated", "T3",
        version_id="v-marker",
    )  # fmt: skip
    assert world.classifier.handle(marker).outcome is Outcome.REMOVED
    assert world.results.get("images", "a.png") is None


def test_a_rejected_result_removes_tags_an_earlier_result_left(world: SimpleNamespace) -> None:
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")
    world.classifier.handle(created("a.png", time="T1"))
    world.objects.objects["a.png"] = (b"not an image", "e2")
    world.objects.tags["a.png"] = [
        *world.objects.tags["a.png"], {"Key": "owner", "Value": "ana"},
    ]  # fmt: skip
    assert world.classifier.handle(created("a.png", etag="e2", time="T2")).outcome is (
        Outcome.REJECTED
    )
    assert world.objects.tags["a.png"] == [{"Key": "owner", "Value": "ana"}]


def test_the_item_has_the_image_colours_and_the_tag_only_when_asked(
    world: SimpleNamespace,
) -> None:
    # Given a navy image with colour tags off (the default)
    world.objects.objects["n.png"] = (png((0, 0, 128)), "e1")
    world.classifier.handle(created("n.png"))
    item = world.results.items["n.png"]
    # Then the item has its colours and its label's partition of its shard
    assert [(c["name"], c["family"], c["fraction"]) for c in item["colours"]] == [
        ("navy", "blue", Decimal("1.0"))
    ]
    assert item["label_shard"] == sharded_value(item["label"], "images/n.png", 4)
    assert "imgclf:colours" not in {t["Key"] for t in world.objects.tags["n.png"]}
    # And with colour tags on and another shard count, the tag names the colours
    world.classifier.tag_names = world.classifier.tag_names | {"colours"}
    world.classifier.index_shards = 16
    world.objects.objects["o.png"] = (png((128, 128, 0)), "e1")
    world.classifier.handle(created("o.png"))
    tags = {t["Key"]: t["Value"] for t in world.objects.tags["o.png"]}
    assert tags["imgclf:colours"] == "olive"
    olive = world.results.items["o.png"]
    assert olive["label_shard"] == sharded_value(olive["label"], "images/o.png", 16)


# -- an upload's first delivery: the conditional write decides, nothing is read first ------


def _tag_values(world: SimpleNamespace, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in world.objects.tags.get(key, [])}


def test_a_first_delivery_is_written_without_reading_the_item_first(
    world: SimpleNamespace,
) -> None:
    # Given a new upload, delivered for the first time
    world.objects.objects["a.png"] = (png((220, 30, 30)), "e1")
    # When it is handled
    result = world.classifier.handle(created("a.png"), first_delivery=True)
    # Then it is classified and tagged, and the only read is the check after tagging
    assert result.outcome is Outcome.CLASSIFIED
    assert world.results.items["a.png"]["label"] == "red"
    assert _tag_values(world, "a.png")["imgclf:label"] == "red"
    assert world.results.reads == 1


def test_a_duplicate_first_delivery_writes_nothing_and_keeps_the_tags(
    world: SimpleNamespace,
) -> None:
    # Given an upload recorded and tagged, then the same event delivered again as a new message
    world.objects.objects["a.png"] = (png((220, 30, 30)), "e1")
    world.classifier.handle(created("a.png"), first_delivery=True)
    item, puts = dict(world.results.items["a.png"]), world.results.puts
    tag_writes = world.objects.tag_writes
    # When it is handled, then it is a duplicate: no write, no tag write, the item as it was
    result = world.classifier.handle(created("a.png"), first_delivery=True)
    assert result.outcome is Outcome.DUPLICATE
    assert (world.results.puts, world.objects.tag_writes) == (puts, tag_writes)
    assert world.results.items["a.png"] == item


def test_a_duplicate_first_delivery_applies_tags_an_earlier_attempt_missed(
    world: SimpleNamespace,
) -> None:
    # Given an upload whose item was written but whose tag write failed
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")
    world.objects.tag_failure = TimeoutError("SlowDown")
    with pytest.raises(TimeoutError):
        world.classifier.handle(created("a.png"), first_delivery=True)
    assert "imgclf:label" not in _tag_values(world, "a.png")
    # When S3's duplicate notification of the same event arrives as a first delivery
    world.objects.tag_failure = None
    result = world.classifier.handle(created("a.png"), first_delivery=True)
    # Then it is a duplicate, and the object gets the tags its item says
    assert result.outcome is Outcome.DUPLICATE
    assert _tag_values(world, "a.png")["imgclf:label"] == "green"


def test_a_late_first_delivery_of_the_same_bytes_is_stale(world: SimpleNamespace) -> None:
    # Given the key recorded by its upload at T2, and the same bytes' upload at T1 arriving late
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")
    world.classifier.handle(created("a.png", time="T2"), first_delivery=True)
    item, tag_writes = dict(world.results.items["a.png"]), world.objects.tag_writes
    # When the late event is handled, then it is stale and changes nothing
    result = world.classifier.handle(created("a.png", time="T1"), first_delivery=True)
    assert result.outcome is Outcome.STALE
    assert world.results.items["a.png"] == item and world.objects.tag_writes == tag_writes


def test_a_rejection_first_delivered_twice_is_written_once(world: SimpleNamespace) -> None:
    world.objects.objects["bad.png"] = (b"not an image", "e1")
    assert world.classifier.handle(created("bad.png"), first_delivery=True).outcome is (
        Outcome.REJECTED
    )
    puts = world.results.puts
    assert world.classifier.handle(created("bad.png"), first_delivery=True).outcome is (
        Outcome.DUPLICATE
    )
    assert world.results.puts == puts


def test_a_retry_reads_first_and_needs_no_get(world: SimpleNamespace) -> None:
    # Given an upload recorded on its first delivery
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")
    world.classifier.handle(created("a.png"), first_delivery=True)
    gets = world.objects.gets
    # When it comes back as a retry (receive count above 1), then the item is read first
    # and the duplicate costs no GET and no inference
    assert world.classifier.handle(created("a.png")).outcome is Outcome.DUPLICATE
    assert world.objects.gets == gets


def test_a_removal_is_never_written_first(world: SimpleNamespace) -> None:
    # Given a result, and a delete that is older than it, delivered for the first time
    world.objects.objects["a.png"] = (png((30, 200, 40)), "e1")
    world.classifier.handle(created("a.png", time="T2"), first_delivery=True)
    removed = ObjectEvent(EventKind.REMOVED, "images", "a.png", "ObjectRemoved:Delete", "T1")
    # When it is handled, then the newer result stays
    assert world.classifier.handle(removed, first_delivery=True).outcome is Outcome.STALE
    assert world.results.get("images", "a.png") is not None
