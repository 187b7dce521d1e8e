"""contracts: the S3 tag value rule that training and the function both apply; index sharding."""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter

import pytest

from classifier.contracts import (
    COLOUR_FAMILIES,
    GSI_KEYS,
    INDEX_SORT_KEY,
    LABEL_ATTRIBUTE,
    LABEL_INDEX,
    LABEL_SHARD_ATTRIBUTE,
    MAX_INDEX_SHARDS,
    OUR_TAG_KEYS,
    REJECTED_PARTITION,
    RESULTS_INDEXES,
    SECOND_LABEL_ATTRIBUTE,
    SECOND_LABEL_INDEX,
    SECOND_LABEL_SHARD_ATTRIBUTE,
    STATUS_ATTRIBUTE,
    TAG_COLOURS,
    TAG_VALUE_MAX_LENGTH,
    TAG_VALUE_PATTERN,
    UNKNOWN_LABEL,
    Status,
    index_shard,
    index_value,
    label_problem,
    registry_values,
    shard_attributes,
    shard_values,
    sharded_value,
    tag_value_problem,
)


@pytest.mark.parametrize(
    "value",
    [
        "golden retriever",
        "a/b",
        "x=y",
        "user@host",
        "v2026-01-01T10:00:00.000+00:00_rc.1",
        "café",  # S3's pattern takes any Unicode letter (\p{L}), not only ASCII
        "猫",
        "½",  # \p{N} holds every number, not only digits
        "",  # S3 allows an empty value
        "x" * TAG_VALUE_MAX_LENGTH,
        "\U0001d400" * (TAG_VALUE_MAX_LENGTH // 2),  # astral letters count twice (UTF-16)
    ],
)
def test_values_s3_accepts_have_no_problem(value: str) -> None:
    assert tag_value_problem(value) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("noir?", "'?' (U+003F) is not allowed"),
        ("a,b", "',' (U+002C) is not allowed"),
        ('"quoted"', "'\"' (U+0022) is not allowed"),
        ("two\nlines", "'\\n' (U+000A) is not allowed"),
        ("tab\there", "'\\t' (U+0009) is not allowed"),
        ("cafe\u0301", "(U+0301) is not allowed"),  # a combining accent is a mark, not a letter
        ("x" * (TAG_VALUE_MAX_LENGTH + 1), "it is 257 characters long"),
        ("\U0001d400" * 129, "it is 258 characters long"),
    ],
)
def test_values_s3_refuses_get_a_one_line_reason_naming_the_rule(value: str, reason: str) -> None:
    problem = tag_value_problem(value)
    assert problem is not None and reason in problem and "\n" not in problem
    assert problem.endswith(
        "(allowed: letters, numbers, spaces and _ . : / = + - @, at most 256 characters)"
    )


def test_rule_matches_the_documented_pattern_for_every_assigned_bmp_character() -> None:
    # Given S3's documented pattern, run by an engine that knows \p{...}
    regex = pytest.importorskip("regex")
    pattern = regex.compile(TAG_VALUE_PATTERN)
    # When every assigned character of the Basic Multilingual Plane is checked both ways
    disagreements = [
        hex(code)
        for code in range(0x10000)
        if unicodedata.category(chr(code)) not in ("Cn", "Cs")
        and (pattern.fullmatch(chr(code)) is None) != (tag_value_problem(chr(code)) is not None)
    ]
    # Then the unicodedata check and the pattern agree
    assert disagreements == []


def test_our_tag_keys_use_only_characters_s3_accepts() -> None:
    # Keys share the values' pattern (and are far below their 128-character limit).
    assert [key for key in OUR_TAG_KEYS if tag_value_problem(key)] == []


def test_index_shards_are_stable_spread_and_bounded() -> None:
    # The shard is a pure function of the pk: sha256, not Python's per-process salted hash()
    assert index_shard("images/cat.jpg", 4) == (
        int.from_bytes(hashlib.sha256(b"images/cat.jpg").digest()[:8], "big") % 4
    )
    assert index_shard("images/cat.jpg", 1) == 0
    # Keys spread over every shard, roughly evenly
    counts = Counter(index_shard(f"images/photo-{i}.jpg", 4) for i in range(4000))
    assert set(counts) == {0, 1, 2, 3} and min(counts.values()) > 900
    # And a query asks exactly the partitions writes can land on
    values = {sharded_value("blue", f"images/{i}.png", 8) for i in range(500)}
    assert values == set(shard_values("blue", 8))
    for bad in (0, MAX_INDEX_SHARDS + 1):
        with pytest.raises(ValueError, match="shards must be 1.."):
            index_shard("x", bad)
        with pytest.raises(ValueError, match="shards must be 1.."):
            shard_values("blue", bad)


def test_colours_are_tags_and_filters_not_an_index() -> None:
    assert len(COLOUR_FAMILIES) == 11 and TAG_COLOURS not in OUR_TAG_KEYS
    assert tag_value_problem(TAG_COLOURS) is None
    assert not any("colour" in name for name in GSI_KEYS)


def test_the_results_table_has_two_write_sharded_indexes() -> None:
    # Two GSIs, each partitioned by its shard attribute and sorted newest first: every index
    # entry is a write unit per image, so the table keeps by_label (every item) and the sparse
    # by_second_label (only items whose image shows a second thing)
    assert GSI_KEYS == {
        LABEL_INDEX: (LABEL_SHARD_ATTRIBUTE, INDEX_SORT_KEY),
        SECOND_LABEL_INDEX: (SECOND_LABEL_SHARD_ATTRIBUTE, INDEX_SORT_KEY),
    }
    assert {index.name for index in RESULTS_INDEXES.values()} == set(GSI_KEYS)
    # And it is not keyed by a raw low-cardinality attribute
    assert {STATUS_ATTRIBUTE, LABEL_ATTRIBUTE}.isdisjoint(key for key, _ in GSI_KEYS.values())


def test_shard_attributes_put_labels_and_rejects_in_the_one_index() -> None:
    pk = "images/photo.jpg"
    shard = index_shard(pk, 8)
    colours = [{"name": "navy", "family": "blue"}, {"name": "white", "family": "white"}]
    classified = {"pk": pk, "status": "CLASSIFIED", "label": "cat", "colours": colours}
    # A classified item is under its label, on its pk's shard
    assert shard_attributes(classified, 8) == {LABEL_SHARD_ATTRIBUTE: f"cat#{shard}"}
    # "unknown" is a label like any other
    unknown = {"pk": pk, "status": "CLASSIFIED", "label": UNKNOWN_LABEL}
    assert shard_attributes(unknown, 8) == {LABEL_SHARD_ATTRIBUTE: f"{UNKNOWN_LABEL}#{shard}"}
    # A rejected item has no label: it is under the reserved rejects value
    rejected = {"pk": pk, "status": Status.REJECTED, "reason": "empty file (0 bytes)"}
    assert shard_attributes(rejected, 8) == {LABEL_SHARD_ATTRIBUTE: f"!rejected#{shard}"}
    assert index_value(rejected) == REJECTED_PARTITION
    # An item with neither is in no index
    assert shard_attributes({"pk": pk}, 8) == {} and index_value({"pk": pk}) is None
    # And every value lands on a partition its query asks
    for value in shard_attributes(classified, 8).values():
        name, _, _ = value.partition("#")
        assert value in shard_values(name, 8)
    with pytest.raises(ValueError, match="shards must be 1.."):
        shard_attributes(classified, 0)


def test_a_second_label_puts_the_item_in_the_second_index_too() -> None:
    pk = "images/cat-and-mug.jpg"
    shard = index_shard(pk, 8)
    item = {"pk": pk, "status": "CLASSIFIED", "label": "tabby cat", SECOND_LABEL_ATTRIBUTE: "cup"}
    assert shard_attributes(item, 8) == {
        LABEL_SHARD_ATTRIBUTE: f"tabby cat#{shard}",
        SECOND_LABEL_SHARD_ATTRIBUTE: f"cup#{shard}",
    }
    assert index_value(item, SECOND_LABEL_INDEX) == "cup"
    # The registry lists both before the item is written
    assert registry_values(item) == ["tabby cat", "cup"]
    # An item without a second branch has no entry there: the index is sparse
    alone = {"pk": pk, "status": "CLASSIFIED", "label": "golden retriever"}
    assert SECOND_LABEL_SHARD_ATTRIBUTE not in shard_attributes(alone, 8)
    assert registry_values(alone) == ["golden retriever"]
    # A rejected item is under the rejects in by_label alone, whatever it carries
    rejected = {**item, "status": "REJECTED"}
    assert shard_attributes(rejected, 8) == {LABEL_SHARD_ATTRIBUTE: f"!rejected#{shard}"}
    assert registry_values(rejected) == [REJECTED_PARTITION]


def test_no_label_can_take_the_rejects_partition() -> None:
    assert label_problem("cat") is None and label_problem("sky blue") is None
    assert "reserved" in (label_problem(REJECTED_PARTITION) or "")
    assert "reserved" in (label_problem("!cat") or "")
    assert "empty" in (label_problem(" ") or "")
