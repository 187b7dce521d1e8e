"""results: the duplicate/stale decision, item shapes and tag merging."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from classifier.colours import DominantColour
from classifier.contracts import (
    DEFAULT_INDEX_SHARDS,
    LABEL_SHARD_ATTRIBUTE,
    MAX_OBJECT_TAGS,
    TAG_COLOURS,
    TAG_LABEL,
    TAG_NAMES,
    UNKNOWN_LABEL,
    index_shard,
    sharded_value,
)
from classifier.model import Classification, Prediction
from classifier.results import (
    Decision,
    ObjectFacts,
    classified_item,
    decide,
    merge_tags,
    rejected_item,
    same_result,
    tags_of_item,
    tags_problem,
)

RECORDED = {"event_order": "T2#0", "etag": "e1", "model_version": "v1", "status": "CLASSIFIED"}
REJECTED = {**RECORDED, "status": "REJECTED"}


@pytest.mark.parametrize(
    ("existing", "order", "etag", "model", "reclassify", "expected"),
    [
        (None, "T1#0", "e1", "v1", False, Decision.PROCEED),
        (RECORDED, "T2#0", "e1", "v1", False, Decision.DUPLICATE),  # redelivery
        (RECORDED, "T3#0", "e1", "v1", False, Decision.DUPLICATE),  # same bytes uploaded again
        (REJECTED, "T2#0", "e1", "v1", False, Decision.DUPLICATE),  # a rejection redelivered
        (REJECTED, "T3#0", "e1", "v1", False, Decision.PROCEED),  # restored, copied: try again
        (RECORDED, "T1#0", "e0", "v1", False, Decision.STALE),  # older event arrives late
        (RECORDED, "T3#0", "e2", "v1", False, Decision.PROCEED),  # new content
        (RECORDED, "T2#0", "e1", "v2", False, Decision.PROCEED),  # new model
        (RECORDED, "", None, "v1", True, Decision.DUPLICATE),  # reclassify, same model
        (RECORDED, "", None, "v2", True, Decision.PROCEED),  # reclassify, newer model
    ],
)
def test_decide(existing, order, etag, model, reclassify, expected) -> None:  # type: ignore[no-untyped-def]
    decision = decide(existing, order=order, etag=etag, model_version=model, reclassify=reclassify)
    assert decision is expected


FACTS = ObjectFacts("b", "k.jpg", "e1", None, 123, "T#0")


def test_classified_item_has_the_contract_attributes() -> None:
    predictions = [Prediction("cat", 0.91234567), Prediction("dog", 0.05)]
    item = classified_item(
        FACTS,
        classification=Classification(predictions[0], predictions, other=0.0),
        model_version="v1",
        width=640,
        height=480,
        latency_ms=12.345,
        tags="applied",
    )
    assert item["pk"] == "b/k.jpg" and item["status"] == "CLASSIFIED"
    assert item["label"] == "cat" and item["confidence"] == Decimal("0.9123")
    assert item["top_k"] == [
        {"label": "cat", "confidence": Decimal("0.9123")},
        {"label": "dog", "confidence": Decimal("0.05")},
    ]
    assert {
        "model_version",
        "etag",
        "size",
        "width",
        "height",
        "classified_at",
        "latency_ms",
    } <= set(item)
    assert "version_id" not in item  # DynamoDB gets no empty attributes
    assert item["classified_at"].endswith("Z")


def test_rejected_item_has_a_reason_and_no_label() -> None:
    item = rejected_item(FACTS, reason="empty file (0 bytes)", model_version="v1", latency_ms=1)
    assert item["status"] == "REJECTED" and item["reason"] == "empty file (0 bytes)"
    assert "label" not in item  # a reject has no label: by_label holds it under !rejected
    assert str(item[LABEL_SHARD_ATTRIBUTE]).startswith("!rejected#")


def test_items_carry_the_sharded_label_partition() -> None:
    # Given the shard count of an environment (on which b/k.jpg is not on its default shard)
    shards = 12
    shard = index_shard("b/k.jpg", shards)
    assert shard != index_shard("b/k.jpg", DEFAULT_INDEX_SHARDS)
    # Then a classified item is on its pk's shard of its label
    item = small_item(CAT, index_shards=shards)
    assert item[LABEL_SHARD_ATTRIBUTE] == sharded_value(item["label"], "b/k.jpg", shards)
    assert item[LABEL_SHARD_ATTRIBUTE] == f"{item['label']}#{shard}"
    # And a rejected one is on the same shard of the rejects, with the same count
    rejected = rejected_item(
        FACTS, reason="empty", model_version="v1", latency_ms=1, index_shards=shards
    )
    assert rejected[LABEL_SHARD_ATTRIBUTE] == f"!rejected#{shard}"


def our_tags(prediction: Prediction, model_version: str) -> dict[str, str]:
    """Our tags for a classified 1x1 image, as the function derives them from its item."""
    classification = Classification(prediction, [prediction], 0.0)
    item = {**small_item(classification), "model_version": model_version}
    tags = tags_of_item(item)
    assert tags is not None
    return tags


def user_tags(count: int) -> list[dict[str, str]]:
    return [{"Key": f"user{i}", "Value": str(i)} for i in range(count)]


def test_merge_keeps_user_tags_and_replaces_ours() -> None:
    stale_ours = [{"Key": TAG_LABEL, "Value": "dog"}]
    merged, state = merge_tags(user_tags(2) + stale_ours, our_tags(Prediction("cat", 0.9), "v2"))
    assert state == "applied" and merged is not None
    assert merged[:2] == user_tags(2)
    assert {t["Key"]: t["Value"] for t in merged[2:]} == {
        "imgclf:label": "cat",
        "imgclf:confidence": "0.9000",
        "imgclf:model": "v2",
    }


def test_merge_records_no_room_instead_of_dropping_user_tags() -> None:
    merged, state = merge_tags(
        user_tags(MAX_OBJECT_TAGS - 2), our_tags(Prediction("cat", 0.9), "v")
    )
    assert merged is None
    assert state.startswith("skipped: the object has 8 user tags")


def test_with_no_room_an_earlier_results_tags_are_removed_not_left_to_contradict() -> None:
    # An object tagged dog by an earlier model, then given 8 user tags: a new result (cat)
    # has no room, and the old imgclf:label=dog stayed beside an item that says cat
    earlier = [{"Key": k, "Value": v} for k, v in our_tags(Prediction("dog", 0.8), "v1").items()]
    merged, state = merge_tags(user_tags(8) + earlier, our_tags(Prediction("cat", 0.9), "v2"))
    assert merged == user_tags(8)
    assert state == (
        "skipped: the object has 8 user tags, no room for 3 more within S3's 10 "
        "(the earlier imgclf tags are removed)"
    )


def test_a_users_own_imgclf_prefixed_tag_is_kept() -> None:
    # Every imgclf:* tag was taken for ours and dropped; only the names imgclf writes are ours
    mine = [{"Key": "imgclf:owner", "Value": "ana"}, {"Key": "team", "Value": "x"}]
    merged, state = merge_tags(mine, our_tags(Prediction("cat", 0.9), "v"))
    assert state == "applied" and merged is not None
    assert merged[:2] == mine and len(merged) == 5


def test_merge_fills_exactly_to_the_limit() -> None:
    merged, _ = merge_tags(user_tags(MAX_OBJECT_TAGS - 3), our_tags(Prediction("cat", 0.9), "v"))
    assert merged is not None and len(merged) == MAX_OBJECT_TAGS


def test_merge_skips_the_write_when_tags_are_already_right() -> None:
    ours = our_tags(Prediction("cat", 0.9), "v")
    current = user_tags(1) + [{"Key": k, "Value": v} for k, v in ours.items()]
    assert merge_tags(current, ours) == (None, "applied")


def test_tags_problem_names_the_tag_and_shortens_a_long_value() -> None:
    assert tags_problem(our_tags(Prediction("golden retriever", 0.9), "v1")) is None
    problem = tags_problem(our_tags(Prediction("x" * 300, 0.9), "v1"))
    assert problem is not None and problem.startswith(f"{TAG_LABEL} '{'x' * 40}…' ")
    assert "it is 300 characters long" in problem and len(problem) < 200


COLOURS = [
    DominantColour("navy", "blue", (12.97196, 47.50228, -64.70216), 0.62549),
    DominantColour("white", "white", (100.0, 0.0, 0.0), 0.30001),
    DominantColour("sky blue", "blue", (79.2, -14.8, -21.3), 0.0449),
]


CAT = Classification(Prediction("cat", 0.9), [Prediction("cat", 0.9)], 0.0)


def small_item(classification: Classification, **extra: Any) -> dict[str, Any]:
    """A CLASSIFIED item of a 1x1 image, as `classified_item` builds it."""
    return classified_item(
        FACTS,
        classification=classification,
        model_version="v1",
        width=1,
        height=1,
        latency_ms=1,
        tags="applied",
        **extra,
    )


def test_an_unknown_image_keeps_the_labels_top_k_and_is_tagged_unknown() -> None:
    top_k = [Prediction("sheep", 0.8), Prediction("cow", 0.15)]
    macaw = Classification(Prediction(UNKNOWN_LABEL, 0.93), top_k, other=0.93)
    item = small_item(macaw)
    assert item["label"] == "unknown" and item["confidence"] == Decimal("0.93")
    assert [entry["label"] for entry in item["top_k"]] == ["sheep", "cow"]
    assert our_tags(macaw.best, "v1")["imgclf:label"] == "unknown"


def test_classified_item_stores_the_colours() -> None:
    item = small_item(CAT, colours=COLOURS, index_shards=4)
    # Then each colour is a map of name, family, Lab to 0.1 and fraction to 0.001 (Decimals)
    assert item["colours"][0] == {
        "name": "navy",
        "family": "blue",
        "lab": [Decimal("13.0"), Decimal("47.5"), Decimal("-64.7")],
        "fraction": Decimal("0.625"),
    }
    assert [c["name"] for c in item["colours"]] == ["navy", "white", "sky blue"]
    assert item["colours"][2]["fraction"] == Decimal("0.045")
    # And colours put the item in no index of their own (a query filters on them)
    assert set(item) - {"colours"} == set(small_item(CAT, index_shards=4))


def test_an_item_without_colours_has_no_colours_attribute() -> None:
    item = small_item(CAT)
    assert "colours" not in item
    rejected = rejected_item(FACTS, reason="empty file (0 bytes)", model_version="v1", latency_ms=1)
    assert "colours" not in rejected


def test_the_colour_tag_is_a_fourth_tag_within_the_ten_tag_limit() -> None:
    item = small_item(CAT, colours=COLOURS)
    ours = tags_of_item(item, ALL_TAGS)
    assert ours is not None and ours[TAG_COLOURS] == "navy white sky-blue"
    assert tags_problem(ours) is None
    assert tags_of_item(item) == our_tags(Prediction("cat", 0.9), "v1")  # the setting is off
    assert TAG_COLOURS not in (tags_of_item(small_item(CAT), ALL_TAGS) or {})
    # Then six user tags leave room for our four, seven do not (user tags are never dropped)
    merged, state = merge_tags(user_tags(MAX_OBJECT_TAGS - 4), ours)
    assert state == "applied" and merged is not None and len(merged) == MAX_OBJECT_TAGS
    merged, state = merge_tags(user_tags(MAX_OBJECT_TAGS - 3), ours)
    assert merged is None and state.startswith("skipped: the object has 7 user tags")
    # And switching colour tags off removes an earlier imgclf:colours tag
    earlier = user_tags(1) + [{"Key": k, "Value": v} for k, v in ours.items()]
    merged, _ = merge_tags(earlier, our_tags(Prediction("cat", 0.9), "v"))
    assert merged is not None and TAG_COLOURS not in {t["Key"] for t in merged}


ALL_TAGS = frozenset(TAG_NAMES)


def test_tags_of_an_item_are_the_ones_the_setting_names() -> None:
    item = small_item(CAT, colours=COLOURS)
    # Given TAGS naming a subset, only those are ours to write, in TAG_NAMES order
    assert tags_of_item(item, {"confidence", "label"}) == {
        "imgclf:label": "cat", "imgclf:confidence": "0.9000",
    }  # fmt: skip
    assert tags_of_item(item, {"colours"}) == {TAG_COLOURS: "navy white sky-blue"}
    # And no names: nothing of ours (merge_tags then removes earlier imgclf tags)
    assert tags_of_item(item, frozenset()) == {}


def test_tags_of_an_item_follow_its_status_and_tag_state() -> None:
    # A classified item's tags say its label, confidence to 4 places and model
    assert tags_of_item(small_item(CAT)) == {
        "imgclf:label": "cat", "imgclf:confidence": "0.9000", "imgclf:model": "v1",
    }  # fmt: skip
    # A rejected item wants none of ours; an item whose tags were skipped leaves them alone
    rejected = rejected_item(FACTS, reason="empty file (0 bytes)", model_version="v1", latency_ms=1)
    assert tags_of_item(rejected) == {}
    assert tags_of_item({**small_item(CAT), "tags": "disabled"}) is None


def test_same_result_ignores_when_and_how_fast_but_not_what() -> None:
    item = small_item(CAT)
    assert same_result(item, {**item, "classified_at": "later", "latency_ms": Decimal(9)})
    assert not same_result(item, {**item, "event_order": "T9#0"})
    assert not same_result(item, {**item, "label": "dog"})
