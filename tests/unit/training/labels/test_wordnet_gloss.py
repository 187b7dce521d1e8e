"""What a word means in WordNet, for the one-line errors of a word that names no label."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgclf.errors import CliError
from imgclf.labels import select_label
from tests.fixtures.hierarchy import small_hierarchy
from training.imagenet import MappingError
from training.labels.mapper import map_labels
from training.labels.wordnet import DEFAULT_DIR, first_noun_gloss

TREE = "a tall perennial woody plant having a main trunk and branches forming a distinct"


@pytest.fixture(autouse=True)
def _wordnet() -> None:
    if not (DEFAULT_DIR / "index.noun").is_file():
        pytest.skip("WordNet 3.0 is not installed (apt-get install wordnet-base; make test does)")


def test_the_first_noun_sense_of_a_word_or_its_singular() -> None:
    assert first_noun_gloss("Tree", DEFAULT_DIR).startswith(TREE)  # type: ignore[union-attr]
    assert first_noun_gloss("trees") == first_noun_gloss("tree")
    assert first_noun_gloss("golden  retriever") is not None  # spaces are underscores
    assert ";" not in first_noun_gloss("grass")  # type: ignore[operator]  # the first clause
    assert first_noun_gloss("florp") is None
    assert first_noun_gloss("tree", Path("/nonexistent")) is None  # no WordNet: no gloss


def test_a_query_word_imagenet_cannot_name_says_what_it_means() -> None:
    with pytest.raises(CliError) as caught:
        select_label("trees", [], small_hierarchy())
    message = str(caught.value)
    assert message.startswith("no label 'trees'") and "\n" not in message
    assert f"WordNet knows it ({TREE}" in message and "imgclf train" in message


def test_a_label_name_imagenet_cannot_name_says_what_it_means() -> None:
    with pytest.raises(MappingError) as caught:
        map_labels(["car", "tree"])
    message = str(caught.value)
    assert f"no ImageNet class is a 'tree' (WordNet: {TREE}" in message
    assert "did you mean tree frog" in message and "\n" not in message
    # And every name it cannot place is in that one line, not the first alone
    with pytest.raises(MappingError) as several:
        map_labels(["tree", "car", "florp"])
    message = str(several.value)
    assert "a 'tree' (WordNet" in message and "a 'florp'" in message and "\n" not in message
