"""The run's generic labels, counted and grouped by category (pure, a hand-made hierarchy)."""

from __future__ import annotations

from typing import Any

from classifier.contracts import Status
from imgclf.report_labels import (
    OTHER_CATEGORY,
    Category,
    label_categories,
    label_counts,
    summary_line,
)
from tests.fixtures.hierarchy import small_hierarchy


def item(
    key: str, labels: dict[str, float] | None, status: Status = Status.CLASSIFIED
) -> dict[str, Any]:
    found: dict[str, Any] = {"key": key, "status": status.value, "label": "x"}
    if labels is not None:
        found["labels"] = labels
    return found


def a_run() -> list[dict[str, Any]]:
    """Three golden retrievers, a dalmatian, a tabby, a daisy, a label the hierarchy does not
    know, an item without labels and a rejected one."""
    golden = {"golden retriever": 0.6, "retriever": 0.7, "dog": 0.9, "mammal": 0.95, "animal": 0.97}
    return [
        item("g1.jpg", {**golden, "golden retriever": 0.8}),
        item("g2.jpg", golden),
        item("g3.jpg", {**golden, "golden retriever": 0.55}),
        item("d1.jpg", {"dalmatian": 0.9, "dog": 0.92, "mammal": 0.95, "animal": 0.99}),
        item("t1.jpg", {"tabby cat": 0.7, "cat": 0.8, "mammal": 0.9, "animal": 0.91}),
        item("f1.jpg", {"daisy": 0.66, "plant": 0.7}),
        item("z1.jpg", {"zeppelin": 0.5}),
        item("n1.jpg", None),
        item("r1.jpg", {"dog": 0.9}, Status.REJECTED),
    ]


def by_name(categories: list[Category]) -> dict[str, Category]:
    return {category.name: category for category in categories}


def test_labels_are_counted_per_image_most_frequent_first() -> None:
    counts = label_counts(a_run())
    assert counts[:3] == [("animal", 5), ("mammal", 5), ("dog", 4)]
    assert ("zeppelin", 1) in counts and all(name != "x" for name, _ in counts)
    assert dict(counts)["dog"] == 4  # the rejected item's labels do not count


def test_labels_are_grouped_by_category_with_their_examples() -> None:
    categories = label_categories(a_run(), small_hierarchy(), per_category=8, examples=2)
    # Most images first; a label the hierarchy does not know is under Other, last
    assert [c.name for c in categories] == [
        "Animals and Pets",
        "Plants and Flowers",
        OTHER_CATEGORY,
    ]
    animals = by_name(categories)["Animals and Pets"]
    assert animals.images == 5 and animals.hidden == 0
    names = [group.name for group in animals.labels]
    assert names[:3] == ["animal", "mammal", "dog"]
    assert set(names) == {
        "animal", "mammal", "dog", "retriever", "golden retriever", "dalmatian", "cat",
        "tabby cat",
    }  # fmt: skip
    groups = {group.name: group for group in animals.labels}
    # The nearest visible parent, through the hierarchy
    assert groups["golden retriever"].parent == "retriever" and groups["animal"].parent is None
    # Examples: the most confident first, at most two
    assert [e.key for e in groups["animal"].examples] == ["d1.jpg", "g1.jpg"]
    # ... preferring images the category has not shown yet (mammal's best are shown above)
    assert [e.key for e in groups["mammal"].examples] == ["g2.jpg", "g3.jpg"]
    assert groups["golden retriever"].count == 3
    assert by_name(categories)[OTHER_CATEGORY].labels[0].name == "zeppelin"


def test_each_category_keeps_its_most_frequent_labels() -> None:
    categories = label_categories(a_run(), small_hierarchy(), per_category=3, examples=4)
    animals = by_name(categories)["Animals and Pets"]
    assert [group.name for group in animals.labels] == ["animal", "mammal", "dog"]
    assert animals.hidden == 5 and animals.images == 5
    assert all(len(group.examples) <= 4 for group in animals.labels)


def test_without_a_hierarchy_every_label_is_other() -> None:
    categories = label_categories(a_run(), None)
    assert [c.name for c in categories] == [OTHER_CATEGORY]
    assert all(group.parent is None for group in categories[0].labels)
    assert label_categories([item("n.jpg", None)], small_hierarchy()) == []


def test_the_summary_line_names_the_most_frequent_labels_within_its_width() -> None:
    line = summary_line(a_run(), width=100)
    assert line.startswith("generic labels (7 of 8 classified): animal 5, mammal 5, dog 4")
    assert len(line) <= 100
    short = summary_line(a_run(), width=70)
    assert len(short) <= 70 and short.endswith(", …") and "animal 5" in short
    whole = summary_line(a_run()[5:7], width=200)
    assert whole == "generic labels (2 of 2 classified): daisy 1, plant 1, zeppelin 1"
    assert summary_line([item("n.jpg", None)]) == (
        "generic labels (0 of 1 classified): none, the live model writes none"
    )
