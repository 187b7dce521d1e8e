"""Per-word recall and precision of predicted label sets, on hand-made inputs."""

from __future__ import annotations

import pytest

from training.generic_eval import query_scores

ANNOTATIONS = {
    "a.jpg": {"golden retriever", "dog", "animal"},
    "b.jpg": {"cat", "animal", "cup"},
    "c.jpg": {"coffee", "cup"},
    "d.jpg": {"sports car", "car", "vehicle"},
}


def test_recall_precision_and_support() -> None:
    predicted = {
        "a.jpg": {"dog", "animal"},
        "b.jpg": {"dog", "animal"},  # a cat called a dog; the cup missed
        "c.jpg": {"cup"},
        "d.jpg": {"car"},
    }
    scores = query_scores(ANNOTATIONS, predicted, ["dog", "animal", "cup", "vehicle"])
    assert scores["images"] == 4
    dog = scores["words"]["dog"]
    assert (dog["annotated"], dog["predicted"], dog["correct"]) == (1, 2, 1)
    assert dog["recall"] == 1.0 and dog["precision"] == 0.5
    assert scores["words"]["animal"]["recall"] == 1.0
    assert scores["words"]["animal"]["precision"] == 1.0
    cup = scores["words"]["cup"]
    assert cup["recall"] == 0.5 and cup["precision"] == 1.0
    vehicle = scores["words"]["vehicle"]
    assert vehicle["recall"] == 0.0 and vehicle["precision"] is None
    assert scores["macro_recall"] == pytest.approx((1.0 + 1.0 + 0.5 + 0.0) / 4)
    assert scores["macro_precision"] == pytest.approx((0.5 + 1.0 + 1.0) / 3)


def test_an_image_without_predictions_predicts_nothing() -> None:
    scores = query_scores(ANNOTATIONS, {"a.jpg": {"dog"}}, ["dog", "car"])
    assert scores["words"]["dog"]["recall"] == 1.0
    assert scores["words"]["car"] == {
        "annotated": 1,
        "predicted": 0,
        "correct": 0,
        "recall": 0.0,
        "precision": None,
    }


def test_a_word_nobody_annotated_has_no_recall() -> None:
    scores = query_scores(ANNOTATIONS, {"a.jpg": {"balloon"}}, ["balloon"])
    balloon = scores["words"]["balloon"]
    assert balloon["recall"] is None and balloon["precision"] == 0.0
    assert scores["macro_recall"] is None and scores["macro_precision"] == 0.0


def test_no_words_gives_no_averages() -> None:
    scores = query_scores(ANNOTATIONS, {}, [])
    assert scores["words"] == {}
    assert scores["macro_recall"] is None and scores["macro_precision"] is None


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="not annotated"):
        query_scores(ANNOTATIONS, {"z.jpg": {"dog"}}, ["dog"])
    with pytest.raises(ValueError, match="twice"):
        query_scores(ANNOTATIONS, {}, ["dog", "dog"])
