"""bench/generic_labels.py's truth for the photo sets scored by class: the words at or above
each photo's thing, on the built-in hierarchy (no model run).

bench/ is not a package; the module is imported from the bench directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[3] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import generic_labels  # noqa: E402

from classifier.artifact import FileDigest, HierarchyRef, ModelMetadata  # noqa: E402
from classifier.imaging import InputSpec  # noqa: E402
from classifier.model import softmax  # noqa: E402
from training.labels import builtin_hierarchy  # noqa: E402


def test_a_photo_carries_the_words_at_or_above_its_thing_only() -> None:
    hierarchy = builtin_hierarchy()
    shown = [(Path("a.jpg"), "golden_retriever"), (Path("b.jpg"), "daisy")]
    found = generic_labels.words_at_or_above(
        hierarchy, shown, ("dog", "cat", "animal", "flower", "plant", "tool")
    )
    assert found == {
        Path("a.jpg"): frozenset({"dog", "animal"}),
        Path("b.jpg"): frozenset({"flower", "plant"}),
    }


def test_a_thing_the_hierarchy_cannot_name_leaves_its_photo_out() -> None:
    found = generic_labels.words_at_or_above(
        builtin_hierarchy(), [(Path("t.jpg"), "tree")], generic_labels.EVERYDAY_WORDS
    )
    assert found == {}


def test_flip_averaging_gives_the_mean_of_the_two_softmaxes() -> None:
    # Given two images' logits (a label's probability moves between them)
    raw = np.array([2.0, 0.0, -1.0])
    mirrored = np.array([0.0, 1.0, 5.0])
    # Then the averaged logits' softmax is the mean of the two softmaxes
    averaged = softmax(generic_labels.flip_averaged(raw, mirrored))
    assert np.allclose(averaged, (softmax(raw) + softmax(mirrored)) / 2)
    # And an image averaged with itself is itself
    assert np.allclose(softmax(generic_labels.flip_averaged(raw, raw)), softmax(raw))


def test_scored_words_keep_the_named_words_with_enough_photos() -> None:
    # Given word counts of a split: one word the hierarchy cannot name, one too rare
    counts = {"dog": 4, "cup": 1, "tree": 5, "animal": 6}
    hierarchy = builtin_hierarchy()
    # Then every word with enough photos is scored, and the unnamed one reported
    assert generic_labels.scored_words(counts, hierarchy, 3) == (["animal", "dog"], ["tree"])
    # And --words narrows them to the words given, still at the minimum count
    assert generic_labels.scored_words(counts, hierarchy, 1, ["dog", "cup", "tree"]) == (
        ["cup", "dog"],
        ["tree"],
    )


def test_the_verdict_says_met_only_when_both_reach_the_target() -> None:
    met = generic_labels.verdict("heldout", {"macro_recall": 0.925, "macro_precision": 0.906})
    assert met == (
        "heldout at the defaults: recall 92.5%, precision 90.6% (target >= 90% each: met)"
    )
    short = generic_labels.verdict("heldout", {"macro_recall": 0.743, "macro_precision": 0.929})
    assert short.endswith("(target >= 90% each: NOT met)")
    # A split with no scored word has no figures: not met
    empty = generic_labels.verdict("tune", {"macro_recall": None, "macro_precision": None})
    assert empty.endswith("NOT met)")


def test_the_scored_model_is_named_by_its_network_digest_and_hierarchy() -> None:
    # Given a generic model's metadata, with its network's digest and hierarchy
    metadata = ModelMetadata(
        version="generic-1",
        input=InputSpec(224, 224),
        labels=(),
        hierarchy=HierarchyRef(version="wn30-abc", classes=1000),
        files={"model.tflite": FileDigest(sha256="b6acc9cedb1f" + "0" * 52, size=10)},
    )
    # Then the run says which artifact its figures belong to
    assert generic_labels.scored_model(metadata) == (
        "model generic-1: model.tflite sha256 b6acc9cedb1f, hierarchy wn30-abc"
    )
    # And an artifact made before digests says so
    bare = ModelMetadata(version="old", input=InputSpec(224, 224), labels=())
    assert generic_labels.scored_model(bare) == "model old: no digests, hierarchy none"
