"""The label-name mapper: everyday words, Animals-10, overlaps, overrides and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.imagenet import ANIMALS10_MAPPING, MappingError, resolve_mapping
from training.labels.mapper import (
    animals10_overrides,
    check_overrides_used,
    map_labels,
    read_overrides,
)

# Reviewed: each word's WordNet 3.0 synset (checked against data.noun's gloss).
EVERYDAY_SYNSETS = {
    "car": "n02958343",  # a motor vehicle with four wheels
    "boat": "n02858304",  # a small vessel for travel on water
    "bird": "n01503061",
    "flower": "n11669921",  # a plant cultivated for its blooms
    "dog": "n02084071",
    "cat": "n02121620",  # true cat: house cats and small wild cats (lynx, cougar), not lions
    "house cat": "n02121808",  # domestic cat
    "kitten": "n02121808",  # override alias: WordNet's kitten has no ImageNet class
    "puppy": "n02084071",  # override alias, likewise
    "tv": "n04404412",  # ImageNet's television (the system sense; its photos are sets)
    "cup": "n03147509",  # a small open container usually used for drinking
    "clock": "n03046257",
    "balloon": "n02782093",
    "guitar": "n03467517",
    "chair": "n03001627",
    "bottle": "n02876657",
    "truck": "n04490091",
    "airplane": "n02691156",
    "bicycle": "n02834778",
    "fruit": "n13134947",
    "mushroom": "n07734744",
    "pizza": "n07873807",
    "umbrella": "n04507155",
    "insect": "n02159955",
    "fish": "n02512053",
    "snake": "n01726692",
    "monkey": "n02484322",
    "ship": "n04194289",
    "furniture": "n03405725",
    "musical_instrument": "n03800933",
    "phone": "n04401088",
    "chicken": "imgclf:chicken",
    "cow": "n02402425",  # cattle
    # A word means its first WordNet sense with ImageNet classes, never a later sense that
    # happens to list it as a lemma (red panda, bicycle, lighter, signboard)
    "panda": "n02510455",  # giant panda
    "wheel": "n04574999",  # a simple machine: car wheel, pinwheel, paddle wheel, potter's
    "sign": "n06793231",  # a public display of a message: ImageNet's street sign
    "crane": "n03126707",  # lifts and moves heavy objects (the bird is WordNet's later sense)
    "plane": "n02691156",  # airplane, not the carpenter's plane
    "bike": "n02834778",  # override alias: WordNet's first bike is the motorcycle
    "instrument": "n03800933",  # override alias: a photo's instrument is a musical one
}


@pytest.mark.parametrize(("word", "wnid"), sorted(EVERYDAY_SYNSETS.items()))
def test_everyday_words_map_to_their_reviewed_synsets(word: str, wnid: str) -> None:
    mapped = map_labels([word])[word]
    assert mapped.node_id == wnid
    assert mapped.indices and 1 <= len(mapped.examples) <= 3


def test_the_animals10_overrides_reproduce_the_builtin_mapping() -> None:
    # ANIMALS10_MAPPING stays the built-in constant; the mapper with the reviewed overrides
    # must give exactly the same classes, so the two cannot drift apart
    mapped = map_labels(list(ANIMALS10_MAPPING), animals10_overrides())
    assert {label: m.indices for label, m in mapped.items()} == resolve_mapping(ANIMALS10_MAPPING)


def test_names_are_case_and_underscore_insensitive() -> None:
    assert map_labels(["Golden_Retriever"])["Golden_Retriever"].indices == (207,)


def test_the_more_specific_label_keeps_shared_classes() -> None:
    # Given dog inside animal, When both are labels, Then dog keeps its 118 breeds
    mapped = map_labels(["dog", "animal"])
    assert mapped["dog"].indices == tuple(range(151, 269))
    assert not set(mapped["dog"].indices) & set(mapped["animal"].indices)
    assert len(mapped["animal"].indices) == 398 - 118


def test_two_labels_for_the_same_classes_are_an_error() -> None:
    with pytest.raises(MappingError, match="same ImageNet classes"):
        map_labels(["cattle", "cow"])


def test_an_unplaceable_name_suggests_close_labels() -> None:
    with pytest.raises(MappingError) as caught:
        map_labels(["car", "bycicle"])
    message = str(caught.value)
    assert "\n" not in message and "'bycicle'" in message and "bicycle" in message


def test_overrides_force_a_node_a_name_or_classes() -> None:
    mapped = map_labels(
        ["pet", "ride", "moggy"],
        {"pet": "n02084071", "ride": "bicycle", "moggy": ["tabby", 283]},
    )
    assert mapped["pet"].node_name == "dog"
    assert mapped["ride"].node_id == "n02834778"
    assert mapped["moggy"].indices == (281, 283)


def test_an_override_to_a_missing_synset_is_one_line() -> None:
    with pytest.raises(MappingError, match=r"^override for 'pet': no node .*'n99999999'$"):
        map_labels(["pet"], {"pet": "n99999999"})


def test_an_override_file_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "overrides.json"
    path.write_text(json.dumps({"_why": "notes", "cow": ["ox"], "pet": "dog"}))
    assert read_overrides(path) == {"cow": ("ox",), "pet": "dog"}
    path.write_text(json.dumps({"cow": 3}))
    with pytest.raises(MappingError, match="needs a wnid"):
        read_overrides(path)
    # A label given twice: the first was dropped without a word
    path.write_text('{"crane": "n02012849", "crane": "n03126707"}')
    with pytest.raises(MappingError, match=r"overrides.json: 'crane' is given twice$"):
        read_overrides(path)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"cow": []}, r"'cow' needs a wnid, a name or a non-empty list$"),
        ({"cow": "  "}, r"'cow' needs a wnid, a name or a non-empty list$"),
        ({"cow": "ox", "Cow ": "n02403003"}, r"'cow' and 'Cow ' are one label$"),
    ],
)
def test_an_override_file_that_says_nothing_or_twice_is_one_line(
    tmp_path: Path, overrides: dict[str, object], reason: str
) -> None:
    path = tmp_path / "overrides.json"
    path.write_text(json.dumps(overrides))
    with pytest.raises(MappingError, match=reason):
        read_overrides(path)


def test_an_override_for_a_label_not_asked_for_is_one_line() -> None:
    check_overrides_used(["Cow", "horse"], {"cow": "ox", "horse": "sorrel"})
    with pytest.raises(
        MappingError, match=r"^override for 'cows', which is not one of the labels \(cow, horse\)$"
    ):
        check_overrides_used(["cow", "horse"], {"cows": "ox"})
