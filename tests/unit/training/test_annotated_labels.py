"""Which labels a packaged photo shows, from its annotated words (training.evalsets)."""

from __future__ import annotations

from training.evalsets import shown_labels
from training.labels import builtin_hierarchy
from training.labels.mapper import map_labels, word_classes


def test_a_word_shows_the_label_that_owns_all_its_classes() -> None:
    owned = {"dog": frozenset({1, 2, 3}), "animal": frozenset({4, 5})}
    meanings = {"terrier": frozenset({2}), "dog": frozenset({1, 2, 3}), "mammal": frozenset({2, 4})}

    def classes_of(word: str) -> frozenset[int]:
        return meanings.get(word, frozenset())

    assert shown_labels(frozenset({"terrier", "dog"}), owned, classes_of) == {"dog"}
    # A word spread over two labels shows neither; a word with no class shows nothing
    assert shown_labels(frozenset({"mammal", "tulip"}), owned, classes_of) == set()
    # Two things, two labels: the caller leaves such a photo out
    meanings["cat"] = frozenset({5})
    assert shown_labels(frozenset({"dog", "cat"}), owned, classes_of) == {"dog", "animal"}


def test_words_mean_classes_as_label_names_are_placed() -> None:
    hierarchy = builtin_hierarchy()
    mapped = map_labels(["car", "bird", "flower"])
    owned = {label: frozenset(m.indices) for label, m in mapped.items()}

    def classes_of(word: str) -> frozenset[int]:
        return word_classes(hierarchy, word)

    assert shown_labels(frozenset({"sports car", "car", "vehicle"}), owned, classes_of) == {"car"}
    assert shown_labels(frozenset({"hen", "chicken"}), owned, classes_of) == {"bird"}
    assert shown_labels(frozenset({"daisy", "flower", "plant"}), owned, classes_of) == {"flower"}
    # No ImageNet class is a tree: such a word shows none of the labels
    assert word_classes(hierarchy, "tree") == frozenset()
    assert shown_labels(frozenset({"tree", "plant"}), owned, classes_of) == set()
