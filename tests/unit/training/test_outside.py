"""Which real photographs are outside a label set, for any labels (training/outside.py)."""

from __future__ import annotations

from training.imagenet import ANIMALS10_MAPPING, resolve_mapping
from training.labels import builtin_hierarchy
from training.labels.domain import domain_classes
from training.labels.mapper import map_labels
from training.outside import in_domain, touches

ANIMALS = resolve_mapping(ANIMALS10_MAPPING)
LABELS = sorted(ANIMALS)


def test_a_photo_of_a_label_or_of_something_under_it_is_not_outside() -> None:
    hierarchy = builtin_hierarchy()

    assert touches(["golden retriever", "dog", "animal"], LABELS, ANIMALS, hierarchy)
    assert touches(["hen", "bird"], LABELS, ANIMALS, hierarchy)  # the chicken label's class
    assert not touches(["toucan", "bird", "animal"], LABELS, ANIMALS, hierarchy)
    assert not touches(["teapot"], LABELS, ANIMALS, hierarchy)
    # "animal" alone is above the labels: a photo of some other animal
    assert not touches(["animal"], LABELS, ANIMALS, hierarchy)


def test_any_label_set_works_and_names_imagenet_lacks_match_by_name() -> None:
    hierarchy = builtin_hierarchy()
    labels = ["mug", "teapot", "tree"]
    mapping = {label: m.indices for label, m in map_labels(["mug", "teapot"]).items()}

    assert touches(["coffee", "coffee mug", "cup"], labels, mapping, hierarchy)
    assert touches(["palm tree", "tree"], labels, mapping, hierarchy)  # by name
    assert not touches(["golden retriever", "dog"], labels, mapping, hierarchy)


def test_the_labels_kind_picks_the_outside_photos_that_say_most() -> None:
    hierarchy = builtin_hierarchy()
    animals = set(domain_classes(ANIMALS))

    assert in_domain(["toucan", "bird", "animal"], animals, hierarchy)
    assert not in_domain(["teapot"], animals, hierarchy)
    assert not in_domain(["sky", "cloud"], animals, hierarchy)  # words the hierarchy lacks
