"""The label hierarchy the function reads from an artifact: sums, labels, names, lineage."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from classifier.hierarchy import HierarchyError, LabelHierarchy, LabelSettings


def small_hierarchy_dict() -> dict[str, Any]:
    """Six classes: two dog breeds, a tabby, a mug, a cup and a car; `object` is hidden."""
    return {
        "format": 1,
        "version": "test-1",
        "source": "hand-made",
        "classes": ["golden", "dalmatian", "tabby", "mug", "cup", "sportscar"],
        "nodes": {
            "entity": {"name": "entity", "hidden": True},
            "animal": {"name": "animal", "parents": ["entity"], "categories": ["Animals"]},
            "dog": {"name": "dog", "aliases": ["domestic dog"], "parents": ["animal"]},
            "golden": {"name": "golden retriever", "parents": ["dog"]},
            "dalmatian": {"name": "dalmatian", "aliases": ["coach dog"], "parents": ["dog"]},
            "cat": {"name": "cat", "parents": ["animal"]},
            "tabby": {"name": "tabby", "parents": ["cat"]},
            "container": {"name": "container", "parents": ["entity"], "categories": ["Home"]},
            "cupnode": {"name": "cup", "parents": ["container"]},
            "mug": {"name": "coffee mug", "parents": ["cupnode"]},
            "cup": {"name": "punch cup", "parents": ["cupnode"]},
            "vehicle": {"name": "vehicle", "parents": ["entity"], "categories": ["Vehicles"]},
            "car": {"name": "car", "aliases": ["automobile", "auto"], "parents": ["vehicle"]},
            "sportscar": {"name": "sports car", "parents": ["car"]},
        },
    }


@pytest.fixture
def hierarchy() -> LabelHierarchy:
    return LabelHierarchy.from_dict(small_hierarchy_dict())


def probabilities(*pairs: tuple[int, float]) -> np.ndarray:
    row = np.zeros(6)
    for index, value in pairs:
        row[index] = value
    return row


def test_a_node_gathers_the_mass_of_every_class_under_it(hierarchy: LabelHierarchy) -> None:
    # Given a photo split between two dog breeds and a mug
    row = probabilities((0, 0.35), (1, 0.30), (3, 0.35))
    # When the hierarchy sums it
    labels = {label.name: label.confidence for label in hierarchy.labels(row, 0.3, 20)}
    # Then dog gathers both breeds, animal everything under it, cup the mug
    assert labels["dog"] == pytest.approx(0.65)
    assert labels["animal"] == pytest.approx(0.65)
    assert labels["cup"] == pytest.approx(0.35)
    assert "entity" not in labels  # hidden nodes are never labels


def test_a_parent_is_never_less_confident_than_its_child(hierarchy: LabelHierarchy) -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        row = rng.dirichlet(np.ones(6))
        sums = dict(
            zip([n.name for n in hierarchy.labelled], hierarchy.confidences(row), strict=True)
        )
        for node in hierarchy.labelled:
            for parent in hierarchy.parent_names(node.name):
                assert sums[parent] >= sums[node.name] - 1e-12


def test_an_image_with_two_things_carries_both(hierarchy: LabelHierarchy) -> None:
    row = probabilities((2, 0.55), (3, 0.40), (5, 0.05))
    names = [label.name for label in hierarchy.labels(row, 0.35, 10)]
    assert {"tabby", "cat", "animal", "coffee mug", "cup", "container"} == set(names)
    assert hierarchy.primary(hierarchy.labels(row, 0.35, 10)).name == "tabby"  # type: ignore[union-attr]


def test_each_branch_gives_its_most_specific_label_most_confident_first(
    hierarchy: LabelHierarchy,
) -> None:
    row = probabilities((2, 0.55), (3, 0.40), (5, 0.05))
    labels = hierarchy.labels(row, 0.35, 10)
    assert [label.name for label in hierarchy.branches(labels)] == ["tabby", "coffee mug"]
    assert [label.name for label in hierarchy.branches(hierarchy.labels(row, 0.5, 10))] == ["tabby"]
    assert hierarchy.branches([]) == () and hierarchy.primary([]) is None


def test_a_second_thing_is_another_kind_of_thing_not_a_second_guess(
    hierarchy: LabelHierarchy,
) -> None:
    # A cat beside a mug: two things with no label in common
    mug = hierarchy.branches(hierarchy.labels(probabilities((2, 0.55), (3, 0.40)), 0.15, 10))
    assert hierarchy.second_thing(mug).name == "coffee mug"  # type: ignore[union-attr]
    # Two dog breeds, or a dog and a cat, share dog or animal: a second guess, not a thing
    breeds = hierarchy.labels(probabilities((0, 0.55), (1, 0.40)), 0.15, 10)
    assert [b.name for b in hierarchy.branches(breeds)] == ["golden retriever", "dalmatian"]
    assert hierarchy.second_thing(hierarchy.branches(breeds)) is None
    pets = hierarchy.branches(hierarchy.labels(probabilities((0, 0.55), (2, 0.40)), 0.15, 10))
    assert hierarchy.second_thing(pets) is None
    # The first branch that is another kind of thing, past a second guess
    three = probabilities((0, 0.45), (1, 0.3), (5, 0.25))
    found = hierarchy.second_thing(hierarchy.branches(hierarchy.labels(three, 0.15, 10)))
    assert found is not None and found.name == "sports car"
    assert hierarchy.second_thing(()) is None


def test_thin_mass_is_no_label_without_a_class_of_its_own(hierarchy: LabelHierarchy) -> None:
    # Given a tabby, and 0.14 spread over the two dog breeds (0.07 each)
    row = probabilities((0, 0.07), (1, 0.07), (2, 0.8), (5, 0.06))
    # Then without the evidence rule "dog" is a label, and with it not
    assert "dog" in {label.name for label in hierarchy.labels(row, 0.1, 10)}
    names = {label.name for label in hierarchy.labels(row, 0.1, 10, 0.075)}
    assert names == {"tabby", "cat", "animal"}
    # But a majority is a label however it is spread
    row = probabilities((0, 0.26), (1, 0.26), (2, 0.2), (3, 0.2), (5, 0.08))
    names = {label.name for label in hierarchy.labels(row, 0.1, 10, 0.3)}
    assert names == {"dog", "animal"}
    with pytest.raises(ValueError, match="min_evidence"):
        LabelSettings(0.2, 10, 1.5)


def test_labels_are_most_confident_first_and_capped(hierarchy: LabelHierarchy) -> None:
    row = probabilities((0, 0.9), (5, 0.1))
    labels = hierarchy.labels(row, 0.05, 3)
    assert len(labels) == 3
    assert [label.confidence for label in labels] == sorted(
        (label.confidence for label in labels), reverse=True
    )
    # ties (animal = dog = golden retriever = 0.9) put the more specific first
    assert labels[0].name == "golden retriever"
    # and the cap keeps each branch's most specific label before any label above one: the
    # sports car (0.1) stays, the animal (0.9) goes
    assert [label.name for label in labels] == ["golden retriever", "dog", "sports car"]
    assert [label.name for label in hierarchy.branches(labels)] == [
        "golden retriever",
        "sports car",
    ]


def test_words_resolve_through_names_and_aliases(hierarchy: LabelHierarchy) -> None:
    assert hierarchy.find("Automobile").name == "car"  # type: ignore[union-attr]
    assert hierarchy.find("coach  dog").name == "dalmatian"  # type: ignore[union-attr]
    assert hierarchy.find("entity") is None  # hidden
    assert hierarchy.find("florp") is None
    assert "dog" in hierarchy.suggest("dgo")
    # A word that is part of a label's name suggests that label first
    assert hierarchy.suggest("Goldens")[0] == "golden retriever"


def test_a_query_word_may_name_a_hidden_node_with_labels_under_it() -> None:
    # Given "canid", hidden between dog and animal, and a hidden "thing" with no class under it
    data = small_hierarchy_dict()
    data["nodes"]["canid"] = {"name": "canid", "hidden": True, "parents": ["animal"]}
    data["nodes"]["dog"]["parents"] = ["canid"]
    data["nodes"]["thing"] = {"name": "thing", "hidden": True, "parents": ["entity"]}
    hierarchy = LabelHierarchy.from_dict(data)
    # Then it is no label, but a query finds it, and reads it through the labels under it
    assert hierarchy.find("canid") is None
    assert hierarchy.search("Canid").name == "canid"  # type: ignore[union-attr]
    assert set(hierarchy.descendants("canid")) == {
        "canid",
        "dog",
        "golden retriever",
        "dalmatian",
    }
    # And a label comes first; a hidden node with nothing under it is no query word
    assert hierarchy.search("dog").name == "dog"  # type: ignore[union-attr]
    assert hierarchy.search("thing") is None
    assert hierarchy.search("entity").name == "entity"  # type: ignore[union-attr]
    # And by another of its WordNet lemmas (`senses`), never before a label of that name
    data["senses"] = {"wild dog": ["canid"], "dog": ["canid"], "dogs": ["canid"]}
    data["senses"]["stuff"] = ["thing"]
    with_senses = LabelHierarchy.from_dict(data)
    assert with_senses.search("Wild dogs").name == "canid"  # type: ignore[union-attr]
    assert with_senses.search("dog").name == "dog"  # type: ignore[union-attr]
    # a label's plural comes before a hidden node's lemma
    assert with_senses.search("dogs").name == "dog"  # type: ignore[union-attr]
    assert with_senses.search("stuff") is None
    # And labelling never gives it
    names = [label.name for label in hierarchy.labels(probabilities((0, 0.9)), 0.05, 10)]
    assert "canid" not in names and "dog" in names


@pytest.mark.parametrize(
    ("word", "name"),
    [
        ("Dogs", "dog"),  # a plural
        ("coach dogs", "dalmatian"),  # the last word of an alias
        ("automobiles", "car"),
        ("sportscar", "sports car"),  # without its space
        ("sports-cars", "sports car"),
        ("coffee  mugs", "coffee mug"),
        ("florps", None),
        ("glass", None),  # no plural ("-ss"), and nothing of that name
    ],
)
def test_a_query_word_may_be_plural_or_spelled_without_spaces(
    hierarchy: LabelHierarchy, word: str, name: str | None
) -> None:
    found = hierarchy.search(word)
    assert (found.name if found else None) == name
    assert hierarchy.find(word) is None or hierarchy.find(word) == found  # labels stay exact


def test_plural_forms() -> None:
    from classifier.word_forms import singulars, squashed

    assert singulars("butterflies")[0] == "butterfly"
    assert "wolf" in singulars("wolves") and "knife" in singulars("knives")
    assert "box" in singulars("boxes") and "horse" in singulars("horses")
    assert singulars("mice") == ["mouse"] and singulars("People") == ["person"]
    assert singulars("golden retrievers")[-1] == "golden retriever"
    assert singulars("glass") == [] and "bus" in singulars("buses")
    assert singulars("dress") == [] and singulars("s") == []
    assert squashed(" Cell-phone ") == "cellphone" == squashed("cell  phone")


def test_descendants_lineage_and_categories(hierarchy: LabelHierarchy) -> None:
    assert set(hierarchy.descendants("dog")) == {"dog", "golden retriever", "dalmatian"}
    assert hierarchy.classes_of("animal") == (0, 1, 2)
    lineage = hierarchy.lineage("golden retriever")
    assert lineage is not None
    assert lineage.parents == ("dog", "animal")
    assert lineage.categories == ("Animals",)  # the nearest ancestor's
    assert hierarchy.lineage("car").aliases == ("automobile", "auto")  # type: ignore[union-attr]


def test_the_file_round_trips(hierarchy: LabelHierarchy) -> None:
    again = LabelHierarchy.from_dict(hierarchy.to_dict())
    assert again.to_dict() == hierarchy.to_dict()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["nodes"]["dog"].update(parents=["nowhere"]), "unknown parent"),
        (lambda d: d["classes"].append("nowhere"), "unknown nodes"),
        (lambda d: d["nodes"]["cat"].update(name="Dog"), "two labels are named"),
        (lambda d: d["nodes"]["animal"].update(parents=["golden"]), "cycle"),
        (lambda d: d.update(format=2), "format 2"),
        (lambda d: d.pop("classes"), "malformed"),
    ],
)
def test_a_malformed_hierarchy_is_one_clear_error(change: Any, message: str) -> None:
    data = small_hierarchy_dict()
    change(data)
    with pytest.raises(HierarchyError, match=message):
        LabelHierarchy.from_dict(data)


def test_a_hierarchy_must_cover_the_models_outputs(hierarchy: LabelHierarchy) -> None:
    hierarchy.check_outputs(6)
    with pytest.raises(HierarchyError, match="covers 6 classes but the model outputs 1000"):
        hierarchy.check_outputs(1000)


def test_label_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="min_confidence"):
        LabelSettings(0.0, 5)
    with pytest.raises(ValueError, match="max_labels"):
        LabelSettings(0.5, 0)


def test_a_hidden_node_with_no_class_under_it_is_no_query_even_by_id() -> None:
    # Given a hidden node that no ImageNet class sits under
    data = {
        "format": 1,
        "version": "t",
        "classes": ["n-cat"],
        "nodes": {
            "n-cat": {"name": "cat"},
            "n-empty": {"name": "empty", "hidden": True},
        },
    }
    hierarchy = LabelHierarchy.from_dict(data)
    # Then neither its name nor its id names anything a query could find
    assert hierarchy.search("n-empty") is None and hierarchy.search("empty") is None
    assert hierarchy.search("N-CAT") == hierarchy.find("cat")
