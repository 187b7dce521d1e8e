"""table_costs: DynamoDB's documented item sizes, and what one image's index entries cost."""

from __future__ import annotations

from decimal import Decimal

from classifier.colours import DominantColour
from classifier.contracts import LABEL_INDEX, RESULTS_INDEXES, shard_attributes
from classifier.model import Classification, Prediction
from classifier.results import ORDER_ATTRIBUTE, ObjectFacts, classified_item
from infra.table_costs import (
    WRITE_UNIT_BYTES,
    attribute_size,
    index_entry,
    item_size,
    value_size,
    write_units,
)


def test_sizes_follow_the_documented_rules() -> None:
    # Strings: UTF-8 bytes of the name and the value
    assert attribute_size("label", "cat") == 8
    assert value_size("é") == 2
    # Numbers: 1 byte per two significant digits, plus 1; leading and trailing zeros trimmed
    assert value_size(Decimal("0.8731")) == 3
    assert value_size(4000) == 2 and value_size(12345) == 4
    # Lists and maps: 3 bytes, plus 1 per element, plus the elements (map keys are names)
    assert value_size([]) == 3
    assert value_size(["ab", "c"]) == 3 + (1 + 2) + (1 + 1)
    assert value_size({"a": "xy"}) == 3 + 1 + (1 + 2)
    assert item_size({"pk": "b/k", "n": 7}) == (2 + 3) + (1 + 2)
    assert write_units(1) == 1 and write_units(WRITE_UNIT_BYTES) == 1
    assert write_units(WRITE_UNIT_BYTES + 1) == 2


def test_an_index_entry_holds_keys_and_the_projection_only() -> None:
    # Given a classified item with colours, top-k and an event order
    item = {
        "pk": "images/a.jpg",
        "key": "a.jpg",
        "bucket": "images",
        "status": "CLASSIFIED",
        "label": "cat",
        "confidence": Decimal("0.9"),
        "top_k": [{"label": "cat", "confidence": Decimal("0.9")}],
        "colours": [{"name": "navy", "family": "blue"}],
        "classified_at": "2026-01-01T00:00:00.000Z",
        ORDER_ATTRIBUTE: "2026-01-01T00:00:00.000Z/00AA",
        "tags": "applied",
    }
    item.update(shard_attributes(item, 4))
    # Then the index holds it, without top_k, tags or the event order
    index = RESULTS_INDEXES[LABEL_INDEX]
    entry = index_entry(item, index)
    assert entry is not None
    assert {"pk", "key", "label", "colours", index.partition_key} <= set(entry)
    assert {"top_k", "tags", ORDER_ATTRIBUTE}.isdisjoint(entry)
    assert item_size(entry) < item_size(item)
    # And an item without the index's partition attribute is not in it (a sparse index)
    bare = {k: v for k, v in item.items() if k != index.partition_key}
    assert index_entry(bare, index) is None


def test_each_index_entry_of_a_full_item_with_a_long_key_is_one_write_unit() -> None:
    # Given a classified item as the function builds it: top-3, a second label (so it is in
    # every index), three colours, a CDK bucket name and a 200-byte key (items this big
    # already cost 2 WU in the table itself)
    key = "photos/2026/06/" + "x" * 181 + ".jpg"
    top = [Prediction("golden_retriever", 0.8731), Prediction("labrador", 0.0912)]
    item = classified_item(
        ObjectFacts(
            "imgclf-prod-imagesbucket3e9f5a2c-1x2y3z4w5v6u",
            key,
            '"9e107d9d372bb6826bd81d3542a419d6"',
            "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
            2_483_112,
            "2026-06-12T15:30:14.123Z/0055B8A1D3C2E4F6AA",
        ),
        classification=Classification(
            top[0], [*top, Prediction("cocker_spaniel", 0.0121)], 0, second="tennis ball"
        ),
        model_version="prod-2026-06-01",
        width=4032,
        height=3024,
        latency_ms=41.3,
        tags="applied",
        colours=[
            DominantColour("sky blue", "blue", (65.1, -4.2, -33.9), 0.412),
            DominantColour("olive drab", "green", (52.0, -31.7, 33.6), 0.386),
            DominantColour("saddle brown", "brown", (45.3, 16.2, 35.0), 0.202),
        ],
        index_shards=64,
    )
    assert len(key) == 200 and write_units(item_size(item)) == 2
    # Then the projection keeps every index write at 1 WU (ALL would cost 2 in each)
    for index in RESULTS_INDEXES.values():
        entry = index_entry(item, index)
        assert entry is not None and write_units(item_size(entry)) == 1, index.name
