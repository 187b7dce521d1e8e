"""events: bodies become decoded object events; noise is recognised; garbage is refused."""

from __future__ import annotations

import json

import pytest

from classifier.contracts import reclassify_message
from classifier.events import EventKind, MalformedMessageError, ObjectEvent, parse_body
from tests.fixtures.events import s3_body, s3_record, s3_test_event_body


@pytest.mark.parametrize(
    "key",
    ["plain.jpg", "with space.jpg", "a+b.jpg", "dir/sub/ünïcødé 猫.png", "100% real?.webp"],
)
@pytest.mark.parametrize("aws_shaped", [True, False])
def test_keys_are_url_decoded_on_every_record(key: str, aws_shaped: bool) -> None:
    body = s3_body(s3_record("b", key, aws_shaped=aws_shaped), s3_record("b", key + "2"))
    events = parse_body(body)
    assert [e.key for e in events] == [key, key + "2"]


def test_aws_record_carries_size_etag_version_and_sequencer() -> None:
    [event] = parse_body(s3_body(s3_record("b", "k", size=77, etag='"abc"', version_id="v9")))
    assert event == ObjectEvent(
        kind=EventKind.CREATED,
        bucket="b",
        key="k",
        event_name="ObjectCreated:Put",
        event_time="2026-11-22T10:00:00.000Z",
        size=77,
        etag="abc",
        version_id="v9",
        sequencer="0055AED6DCD90281E5",
    )


def test_order_compares_sequencers_as_hex_numbers() -> None:
    short = ObjectEvent(EventKind.CREATED, "b", "k", event_time="T", sequencer="FF")
    long = ObjectEvent(EventKind.CREATED, "b", "k", event_time="T", sequencer="100")
    assert short.order < long.order  # 0xFF < 0x100, though "FF" > "100" as strings


def test_order_falls_back_to_event_time_for_moto_shaped_events() -> None:
    earlier = ObjectEvent(EventKind.CREATED, "b", "k", event_time="2026-11-22T10:00:00.001Z")
    later = ObjectEvent(EventKind.CREATED, "b", "k", event_time="2026-11-22T10:00:00.002Z")
    assert earlier.order < later.order


def test_removed_events_are_parsed() -> None:
    [event] = parse_body(s3_body(s3_record("b", "k", event_name="ObjectRemoved:Delete")))
    assert event.kind is EventKind.REMOVED


@pytest.mark.parametrize(
    ("name", "removes_version"),
    [
        ("LifecycleExpiration:Delete", True),
        ("LifecycleExpiration:DeleteMarkerCreated", False),
        ("ObjectRemoved:Delete", True),
        ("ObjectRemoved:DeleteMarkerCreated", False),
    ],
)
def test_a_lifecycle_expiry_is_a_removal(name: str, removes_version: bool) -> None:
    # A lifecycle rule's expiry sends no ObjectRemoved: its item stayed CLASSIFIED for good
    record = s3_record("b", "k", event_name=name, size=None, version_id="v1")
    [event] = parse_body(s3_body(record))
    assert event.kind is EventKind.REMOVED
    assert event.removes_version is removes_version


@pytest.mark.parametrize("name", ["ObjectTagging:Put", "ObjectTagging:Delete", "ObjectAcl:Put"])
def test_tag_and_acl_events_are_noise(name: str) -> None:
    assert parse_body(s3_body(s3_record("b", "k", event_name=name))) == []


def test_a_folder_marker_is_noise_but_a_file_named_like_one_is_not() -> None:
    # The S3 console's "Create folder" puts an empty object whose key ends with "/"
    assert parse_body(s3_body(s3_record("b", "holiday photos/", size=0))) == []
    # A folder marker with bytes in it, an empty file, and a marker's removal are events
    for record in (
        s3_record("b", "holiday photos/", size=12),
        s3_record("b", "empty.jpg", size=0),
        s3_record("b", "holiday photos/", event_name="ObjectRemoved:Delete", size=None),
    ):
        assert len(parse_body(s3_body(record))) == 1


def test_s3_test_event_is_noise() -> None:
    assert parse_body(s3_test_event_body()) == []


def test_a_reclassify_message_carries_the_version_it_was_sent_for() -> None:
    [event] = parse_body(reclassify_message("images", "a.jpg", "v2"))
    assert (event.kind, event.key, event.model_version) == (EventKind.RECLASSIFY, "a.jpg", "v2")
    assert parse_body(reclassify_message("images", "a.jpg"))[0].model_version is None
    body = json.dumps({**json.loads(reclassify_message("images", "a.jpg")), "model_version": 2})
    with pytest.raises(MalformedMessageError, match="model_version is not a string"):
        parse_body(body)


def test_reclassify_message_is_understood() -> None:
    [event] = parse_body(reclassify_message("b", "a b/c.jpg"))
    assert (event.kind, event.bucket, event.key) == (EventKind.RECLASSIFY, "b", "a b/c.jpg")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"hello": "world"}), "no Records"),
        (json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}), "lacks"),
        (json.dumps({"type": "imgclf:reclassify", "bucket": "b"}), "needs a bucket and a key"),
    ],
)
def test_garbage_is_refused_with_a_reason(body: str, reason: str) -> None:
    with pytest.raises(MalformedMessageError, match=reason):
        parse_body(body)
