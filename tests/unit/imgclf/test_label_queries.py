"""`--label WORD` at any level of the hierarchy, and `imgclf labels` counts (pure parts)."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from imgclf import labels
from imgclf.errors import CliError
from imgclf.labels import (
    LabelCount,
    count_partition,
    label_counts,
    label_tree,
    labels_in_partition,
    select_label,
    tree_lines,
)
from imgclf.main import main
from imgclf.result_queries import ResultQuery
from tests.fixtures.hierarchy import small_hierarchy

HIERARCHY = small_hierarchy()
PRESENT = ["!rejected", "dalmatian", "golden retriever", "my-widget", "tabby cat", "unknown"]


def item(key: str, label: str, minute: int, **generic: float) -> dict[str, Any]:
    """A CLASSIFIED item with generic labels (name -> confidence)."""
    return {
        "key": key,
        "status": "CLASSIFIED",
        "label": label,
        "confidence": Decimal(str(generic.get(label.replace(" ", "_"), 0.9))),
        "labels": {name.replace("_", " "): Decimal(str(c)) for name, c in generic.items()},
        "classified_at": f"2026-12-01T10:{minute:02d}:00.000Z",
    }


ITEMS = [
    item("rex.jpg", "golden retriever", 1, golden_retriever=0.61, dog=0.97, animal=0.99),
    item("spot.jpg", "dalmatian", 2, dalmatian=0.8, dog=0.85, animal=0.9),
    item("tom.jpg", "tabby cat", 3, tabby_cat=0.7, cat=0.75, animal=0.95),
    {
        "key": "w.jpg",
        "status": "CLASSIFIED",
        "label": "my-widget",
        "confidence": Decimal("0.9"),
        "classified_at": "2026-12-01T10:04:00.000Z",
    },
    {
        "key": "bad.png",
        "status": "REJECTED",
        "reason": "empty file",
        "classified_at": "2026-12-01T10:05:00.000Z",
    },
]


def test_a_selection_says_which_sense_of_the_word_it_asks() -> None:
    from training.labels import builtin_hierarchy

    # "crane" is the machine (WordNet's first sense with ImageNet classes), not the bird
    crane = select_label("crane", [], builtin_hierarchy())
    assert crane.meaning.startswith("construction crane (n03126707): lifts and moves heavy")
    assert select_label("dog", PRESENT, HIERARCHY).meaning == "dog (n-dog)"  # no gloss
    assert select_label("my-widget", PRESENT, HIERARCHY).meaning == ""  # a trained label


def test_a_word_selects_itself_and_every_present_label_under_it() -> None:
    dog = select_label("dog", PRESENT, HIERARCHY)
    assert (dog.name, dog.values) == ("dog", ("dalmatian", "golden retriever"))
    animal = select_label("Animal", PRESENT, HIERARCHY)
    assert animal.values == ("dalmatian", "golden retriever", "tabby cat")
    # An alias finds its node, in any case and spacing
    assert select_label("Coach  Dog", PRESENT, HIERARCHY).values == ("dalmatian",)
    # A word too general to be a label (hidden) selects the labels under it
    assert select_label("carnivore", PRESENT, HIERARCHY).values == (
        "dalmatian",
        "golden retriever",
        "tabby cat",
    )
    # A label with nothing present selects nothing (no error: it is a label)
    assert select_label("daisy", PRESENT, HIERARCHY).values == ()
    # A trained label and unknown work as before, with or without a hierarchy
    assert select_label("my-widget", PRESENT, HIERARCHY).values == ("my-widget",)
    assert select_label("my-widget", PRESENT, None).values == ("my-widget",)
    assert select_label("unknown", [], HIERARCHY).values == ("unknown",)


def test_a_category_selects_every_present_label_in_it() -> None:
    # Given DetectLabels' categories, as a Rekognition user filters by them (any case)
    pets = select_label("animals and PETS", [*PRESENT, "daisy"], HIERARCHY)
    # Then the labels under the category's anchor are asked, and no other
    assert pets.name == "Animals and Pets"
    assert pets.values == ("dalmatian", "golden retriever", "tabby cat")
    assert pets.meaning.startswith("the category Animals and Pets (")
    assert select_label("Plants and Flowers", [*PRESENT, "daisy"], HIERARCHY).values == ("daisy",)
    # And an item's confidence for it is its most confident label in the category
    assert pets.confidence(ITEMS[0]) == pytest.approx(0.99)


def test_a_category_holds_the_labels_its_nearest_anchor_gives() -> None:
    from training.labels import builtin_hierarchy

    words = builtin_hierarchy().words
    food = words.category("Food and Beverage")
    plants = words.category("plants and flowers")
    assert food is not None and plants is not None
    # An edible fruit is food; a botanical fruit (an acorn) stays with the plants
    assert "strawberry" in food[1] and "strawberry" not in plants[1]
    assert "acorn" in plants[1] and "acorn" not in food[1]
    assert words.category("florp") is None


def test_a_trained_label_is_found_through_the_hierarchy_by_its_alias() -> None:
    # Given a day-0 model's trained label "tabby" (the hierarchy's "tabby cat", by alias)
    present = ["tabby", "dalmatian"]
    # When a user asks for a word above it
    # Then the trained label's partition is asked too
    assert select_label("cat", present, HIERARCHY).values == ("tabby",)
    assert select_label("mammal", present, HIERARCHY).values == ("dalmatian", "tabby")
    # And a trained label named in the plural, as folders often are, is its label too
    assert select_label("dog", ["dalmatians", "cats"], HIERARCHY).values == ("dalmatians",)
    assert select_label("mammal", ["dalmatians", "cats"], HIERARCHY).values == (
        "cats",
        "dalmatians",
    )


def test_a_trained_label_the_hierarchy_has_no_node_of_answers_to_its_plural() -> None:
    # Given a trained "tree" and a trained "musical_instrument" in the registry
    present = [*PRESENT, "tree", "musical_instrument"]
    # Then the plural, another case and spaces find them
    for word in ("trees", "Trees", "tree"):
        assert select_label(word, present, HIERARCHY).values == ("tree",)
    assert select_label("Musical Instruments", present, None).values == ("musical_instrument",)
    # And a misspelling suggests the trained label first
    with pytest.raises(CliError, match=r"did you mean: tree\b"):
        select_label("tres", present, HIERARCHY)


def test_an_unknown_word_is_one_line_with_close_names() -> None:
    with pytest.raises(CliError) as raised:
        select_label("florp", PRESENT, HIERARCHY)
    assert str(raised.value) == "no label 'florp' (did you mean: plant)"
    with pytest.raises(CliError, match=r"did you mean: dog\b"):
        select_label("dgo", PRESENT, HIERARCHY)
    with pytest.raises(CliError, match=r"did you mean: my-widget\).*not available"):
        select_label("my-widgte", PRESENT, None, "the label hierarchy is not available: x")


def test_min_confidence_compares_the_words_own_confidence() -> None:
    dog = select_label("dog", PRESENT, HIERARCHY)
    assert dog.confidence(ITEMS[0]) == pytest.approx(0.97)
    golden = select_label("golden retriever", PRESENT, HIERARCHY)
    no_map = {**ITEMS[0], "labels": {}}
    assert golden.confidence(no_map) == pytest.approx(0.61)  # its own label: `confidence`
    # Found by its second label with the word itself capped away: the label under the word
    # (daisy 0.3), not the item's first label (golden retriever 0.61)
    plant = select_label("plant", [*PRESENT, "daisy"], HIERARCHY)
    both = {**ITEMS[0], "second_label": "daisy"}
    both["labels"] = {**ITEMS[0]["labels"], "daisy": Decimal("0.3")}
    assert plant.confidence(both) == pytest.approx(0.3)
    # A trained label the hierarchy also names: the model's own confidence, which its row
    # shows, not the generic one
    tool = select_label("tool", [*PRESENT, "tool"], HIERARCHY)
    trained = {**ITEMS[3], "label": "tool", "confidence": Decimal("0.994")}
    trained["labels"] = {"tool": Decimal("0.807"), "hammer": Decimal("0.7")}
    assert tool.confidence(trained) == pytest.approx(0.994)
    # In memory (`--file`), with the same rule
    query = ResultQuery(min_confidence=0.9)
    query = dataclasses.replace(query, values=dog.values, confidence_of=dog.confidence)
    assert [i["key"] for i in query.of_items(ITEMS)] == ["rex.jpg"]
    animal = select_label("animal", PRESENT, HIERARCHY)
    every = dataclasses.replace(ResultQuery(), values=animal.values)
    assert [i["key"] for i in every.of_items(ITEMS)] == ["tom.jpg", "spot.jpg", "rex.jpg"]


COUNTS = {"golden retriever": 3, "dalmatian": 2, "tabby cat": 1, "my-widget": 4, "!rejected": 9}


def test_counts_sum_up_the_hierarchy() -> None:
    rows = {row.label: row for row in label_counts({**COUNTS, "unknown": 0}, HIERARCHY)}
    assert rows["dog"] == LabelCount("dog", 5, 0)
    assert rows["animal"].count == 6 and rows["mammal"].count == 6
    assert rows["golden retriever"] == LabelCount("golden retriever", 3, 3)
    assert rows["my-widget"].count == 4
    assert "!rejected" not in rows and "unknown" not in rows and "plant" not in rows
    ordered = [row.count for row in label_counts(COUNTS, HIERARCHY)]
    assert ordered == sorted(ordered, reverse=True)
    # Without the hierarchy, each value counts alone
    assert {row.label for row in label_counts(COUNTS, None)} == set(COUNTS) - {"!rejected"}


def test_an_item_under_two_labels_counts_once_above_both() -> None:
    # One golden retriever is also under "tabby cat" (its second label); one daisy under
    # "dalmatian". Both labels of the first sit under mammal, of the second only under entity
    pairs = {("tabby cat", "golden retriever"): 1, ("dalmatian", "daisy"): 1}
    counts = {"golden retriever": 3, "dalmatian": 2, "tabby cat": 1, "daisy": 1}
    rows = {row.label: row for row in label_counts(counts, HIERARCHY, pairs)}
    assert rows["mammal"].count == 5  # 6 entries, one item twice
    assert rows["dog"].count == 5 and rows["cat"].count == 1  # each holds one of its labels
    assert rows["tabby cat"] == LabelCount("tabby cat", 1, 1)
    assert tree_lines(label_tree("carnivore", counts, HIERARCHY, None, pairs))[0] == (
        "carnivore  5"
    )
    assert tree_lines(label_tree("entity", counts, HIERARCHY, None, pairs))[0] == "entity  5"


def test_a_trained_label_in_the_plural_counts_under_its_label() -> None:
    rows = {row.label: row for row in label_counts({"Dogs": 2, "dalmatian": 1}, HIERARCHY)}
    assert rows["dog"] == LabelCount("dog", 3, 2) and rows["animal"].count == 3


def test_the_tree_shows_only_present_labels_indented() -> None:
    lines = tree_lines(label_tree("animal", COUNTS, HIERARCHY))
    assert lines == [
        "animal  6",
        "  mammal  6",
        "    dog  5",
        "      retriever  3",
        "        golden retriever  3",
        "      dalmatian  2",
        "    cat  1",
        "      tabby cat  1",
    ]
    # A word too general to be a label (hidden "carnivore") counts and shows the labels under it
    assert tree_lines(label_tree("Carnivore", COUNTS, HIERARCHY)) == [
        "carnivore  6",
        "  dog  5",
        "    retriever  3",
        "      golden retriever  3",
        "    dalmatian  2",
        "  cat  1",
        "    tabby cat  1",
    ]
    assert tree_lines(label_tree("my-widget", COUNTS, HIERARCHY)) == ["my-widget  4"]
    with pytest.raises(CliError, match="no label 'florp'"):
        label_tree("florp", COUNTS, HIERARCHY)


def test_a_category_tree_counts_the_labels_in_it_each_item_once() -> None:
    # Given a category (DetectLabels' Categories), as --label reads it
    tree = label_tree("animals and pets", COUNTS, HIERARCHY)
    # Then its root counts the items of the labels in it, and its labels hang below as usual
    assert tree_lines(tree)[:3] == ["Animals and Pets  6", "  animal  6", "    mammal  6"]
    # And an item whose two labels are both in it counts once
    pairs = {("dalmatian", "tabby cat"): 1}
    assert label_tree("Animals and Pets", COUNTS, HIERARCHY, pairs=pairs).count == 5


class PagedCounts:
    """A DynamoDB client whose COUNT Query answers in pages."""

    def __init__(self, pages: list[int]) -> None:
        self.pages = pages
        self.calls: list[dict[str, Any]] = []

    def query(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(arguments)
        index = len(self.calls) - 1
        page: dict[str, Any] = {"Count": self.pages[index], "ScannedCount": self.pages[index]}
        if index + 1 < len(self.pages):
            page["LastEvaluatedKey"] = {"pk": {"S": f"k{index}"}}
        return page


def test_a_count_follows_every_page() -> None:
    client = PagedCounts([1000, 1000, 17])
    assert count_partition(client, "results", "dog#0") == 2017
    assert client.calls[0]["Select"] == "COUNT" and "ExclusiveStartKey" not in client.calls[0]
    assert client.calls[2]["ExclusiveStartKey"] == {"pk": {"S": "k1"}}


class PagedLabels(PagedCounts):
    """A DynamoDB client whose Query returns each item's label, in pages."""

    def __init__(self, pages: list[list[str]]) -> None:
        super().__init__([len(page) for page in pages])
        self.labels = pages

    def query(self, **arguments: Any) -> dict[str, Any]:
        page = super().query(**arguments)
        page["Items"] = [{"label": {"S": label}} for label in self.labels[len(self.calls) - 1]]
        return page


def test_a_second_label_partition_is_read_for_each_items_label() -> None:
    client = PagedLabels([["tabby cat", "dalmatian"], ["tabby cat"]])
    found = labels_in_partition(client, "results", "daisy#0")
    assert found == {"tabby cat": 2, "dalmatian": 1}
    first = client.calls[0]
    assert first["IndexName"] == "by_second_label" and "Select" not in first
    assert first["ProjectionExpression"] == "#label"
    assert first["ExpressionAttributeNames"]["#label"] == "label"
    assert client.calls[1]["ExclusiveStartKey"] == {"pk": {"S": "k0"}}


def test_results_from_a_file_filter_by_any_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(labels, "hierarchy", small_hierarchy)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(ITEMS, default=str), encoding="utf-8")
    assert main(["results", "--file", str(path), "--label", "dog", "--format", "json"]) == 0
    assert [i["key"] for i in json.loads(capsys.readouterr().out)] == ["spot.jpg", "rex.jpg"]
    # And an unknown word is one line on stderr, exit 1
    assert main(["results", "--file", str(path), "--label", "florp"]) == 1
    error = capsys.readouterr().err
    assert error.strip() == "imgclf: error: no label 'florp' (did you mean: plant)"


def test_a_trained_label_no_imagenet_class_is_sits_under_its_wordnet_parents() -> None:
    from training.labels import builtin_hierarchy
    from training.labels.wordnet import first_noun_gloss

    if first_noun_gloss("tree") is None:
        pytest.skip("WordNet 3.0 is not installed (apt-get install wordnet-base; make test does)")
    hierarchy = builtin_hierarchy()
    # Given trained labels "tree" (no ImageNet class is one) and "daisy" (a hierarchy label)
    present = ["tree", "daisy", "my-widget"]
    # Then "tree" is placed through WordNet's hypernyms, under "plant"
    assert labels.wordnet_placement("tree", hierarchy)[0].name == "vascular plant"
    assert "plant" in [node.name for node in labels.wordnet_placement("trees", hierarchy)]
    # And a query for plant finds it, as counts and trees do
    assert select_label("plant", present, hierarchy).values == ("daisy", "tree")
    rows = {row.label: row for row in label_counts({"tree": 4, "daisy": 2}, hierarchy)}
    assert rows["plant"].count == 6 and rows["tree"].direct == 4
    assert tree_lines(label_tree("plant", {"tree": 4, "daisy": 2}, hierarchy)) == [
        "plant  6",
        "  tree  4",
        "  flower  2",
        "    daisy  2",
    ]
    # And a name WordNet does not know, or "unknown", is placed nowhere
    assert labels.wordnet_placement("my-widget", hierarchy) == ()
    assert labels.wordnet_placement("unknown", hierarchy) == ()


def test_a_trained_label_named_like_a_folder_is_its_hierarchy_label() -> None:
    # Folder names often join words with underscores ("musical_instrument")
    from training.labels import builtin_hierarchy

    node = builtin_hierarchy().search("musical_instrument")
    assert node is not None and node.name == "musical instrument"
