"""A label set's domain through the hierarchy: the classes of its own kind, for any labels."""

from __future__ import annotations

from training.imagenet import ANIMALS10_MAPPING, resolve_mapping, short_name
from training.labels.domain import MAX_DOMAIN_SHARE, as_ranges, domain_classes
from training.labels.mapper import map_labels


def _domain(labels: list[str]) -> set[str]:
    mapped = {label: m.indices for label, m in map_labels(labels).items()}
    return {short_name(i) for i in domain_classes(mapped)}


def test_animals_ten_have_the_animals_they_meet_at_not_their_stray_artefacts() -> None:
    domain = set(domain_classes(resolve_mapping(ANIMALS10_MAPPING)))

    assert {291, 340, 96, 100} <= domain  # lion, zebra, toucan, black swan
    assert 603 not in domain and 815 not in domain  # horse cart, spider web: strays
    assert not domain & set(range(398, 1000))  # no artefact, food or scene
    assert len(domain) < MAX_DOMAIN_SHARE * 1000


def test_tools_have_tools_and_tableware_has_containers() -> None:
    tools = _domain(["hammer", "screwdriver", "shovel"])
    vessels = _domain(["mug", "teapot", "plate"])

    assert {"hammer", "screwdriver", "shovel", "plane"} <= tools
    assert "tabby" not in tools and "pizza" not in tools
    assert {"coffee mug", "teapot", "pitcher"} <= vessels
    assert "golden retriever" not in vessels


def test_one_label_or_a_kind_above_half_of_imagenet_counts_every_class() -> None:
    assert domain_classes({"cat": (281, 282)}) == ()
    assert domain_classes({"cat": (281,), "pizza": (963,)}) == ()  # they meet at "whole"


def test_ranges_merge_runs() -> None:
    assert as_ranges([7, 0, 1, 2, 9, 8]) == ((0, 2), (7, 9))
    assert as_ranges([]) == ()
