"""Per-word recall and precision of a generic labeller's answers, as searches would see them.

A query for a word returns the images whose predicted label set contains it. Its recall is
the share of the images annotated with the word that it returns; its precision is the share
of the images it returns that are annotated with the word. Pure: the annotations come from
training.datasets.generic_photos and the predicted sets from the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from typing import Any


def query_scores(
    annotations: Mapping[str, Set[str]],
    predicted: Mapping[str, Set[str]],
    words: Sequence[str],
) -> dict[str, Any]:
    """Recall, precision and support of each query word, and their macro averages.

    `annotations` and `predicted` map an image's key to its set of words; an image missing
    from `predicted` has no predicted label. A word's recall is None when no image is
    annotated with it, and its precision None when no image is predicted with it; the macro
    averages are over the words whose value is defined (None when there is none).
    """
    unknown = sorted(set(predicted) - set(annotations))
    if unknown:
        raise ValueError(f"{len(unknown)} predicted images are not annotated, e.g. {unknown[0]}")
    if len(set(words)) != len(words):
        raise ValueError("a query word is listed twice")
    per_word: dict[str, dict[str, Any]] = {}
    for word in words:
        annotated = {key for key, labels in annotations.items() if word in labels}
        returned = {key for key in annotations if word in predicted.get(key, frozenset())}
        correct = len(annotated & returned)
        per_word[word] = {
            "annotated": len(annotated),
            "predicted": len(returned),
            "correct": correct,
            "recall": correct / len(annotated) if annotated else None,
            "precision": correct / len(returned) if returned else None,
        }
    return {
        "images": len(annotations),
        "words": per_word,
        "macro_recall": _mean(score["recall"] for score in per_word.values()),
        "macro_precision": _mean(score["precision"] for score in per_word.values()),
    }


def _mean(values: Iterable[float | None]) -> float | None:
    defined = [float(value) for value in values if value is not None]
    return sum(defined) / len(defined) if defined else None
