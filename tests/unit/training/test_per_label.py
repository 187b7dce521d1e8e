"""Per-label evaluation as Custom Labels reports it, on small hand-computed cases; and the
training report's per-label sections, page and confusion matrix with an "unknown" column."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from training.evaluate import plot_confusion_matrix, score
from training.evaluation_report import write_report
from training.gate import check_gate
from training.per_label import (
    UNKNOWN,
    evaluate,
    short_names,
    suggest_threshold,
    table_lines,
    wrong_lines,
)

LABELS = ("cat", "dog", "cow")
# cat: 3 images, 2 right (one called dog); dog: 2, 1 right (one called unknown);
# cow: 1, called cat with the highest confidence of all; cow is never predicted.
TRUTH = [0, 0, 0, 1, 1, 2]
PREDICTED = [0, 0, 1, 1, UNKNOWN, 0]
CONFIDENCE = [0.9, 0.6, 0.8, 0.7, 0.3, 0.95]
FILES = ["cat/1.jpg", "cat/2.jpg", "cat/3.jpg", "dog/1.jpg", "dog/2.jpg", "cow/1.jpg"]


def _small(target_precision: float = 0.95) -> Any:
    return evaluate(TRUTH, PREDICTED, CONFIDENCE, LABELS, FILES, target_precision)


def test_precision_recall_and_f1_per_label_count_unknown_as_wrong() -> None:
    evaluation = _small()

    cat, dog, cow = evaluation.per_label
    assert (cat.precision, cat.recall, cat.support, cat.predicted) == (2 / 3, 2 / 3, 3, 3)
    assert cat.f1 == pytest.approx(2 / 3)
    # The dog called unknown lowers dog's recall, not its precision's denominator
    assert (dog.precision, dog.recall, dog.f1, dog.support, dog.predicted) == (0.5, 0.5, 0.5, 2, 2)
    # A label never predicted: zeros, and no threshold to suggest
    assert (cow.precision, cow.recall, cow.f1, cow.support, cow.predicted) == (0, 0, 0, 1, 0)
    assert cow.suggestion is None


def test_overall_macro_averages_labels_and_micro_pools_images() -> None:
    evaluation = _small()

    assert evaluation.macro == pytest.approx(((2 / 3 + 0.5) / 3,) * 3)
    # 3 right of 6 images; of the 5 given a label, 3 right
    assert evaluation.micro == pytest.approx((3 / 5, 3 / 6, 2 * 0.6 * 0.5 / 1.1))
    assert evaluation.accuracy == 0.5 and evaluation.count == 6 and evaluation.unknown == 1


def test_the_confusion_matrix_has_an_unknown_column() -> None:
    evaluation = _small()

    assert evaluation.confusion.tolist() == [[2, 1, 0, 0], [0, 1, 0, 1], [1, 0, 0, 0]]


def test_wrong_images_are_listed_most_confident_first() -> None:
    wrong = [(w.file, w.true, w.predicted, w.confidence) for w in _small().wrong]

    assert wrong == [
        ("cow/1.jpg", "cow", "cat", 0.95),
        ("cat/3.jpg", "cat", "dog", 0.8),
        ("dog/2.jpg", "dog", "unknown", 0.3),
    ]


def test_the_suggested_threshold_is_the_lowest_reaching_the_target_precision() -> None:
    # Given a label's predictions, most confident first; precision as the threshold falls:
    # 1, 1, 1, 0.75, 0.8, 0.667. Six images are the label; one was called something else
    confidence = np.array([0.6, 0.99, 0.8, 0.95, 0.7, 0.9])
    correct = np.array([False, True, False, True, True, True])

    # 0.95: the threshold 0.9 keeps three right ones
    high = suggest_threshold(confidence, correct, 6, 0.95)
    assert high is not None
    assert (high.threshold, high.precision, high.recall) == (0.9, 1.0, 0.5)
    # 0.75: precision is not monotonic; the lowest threshold reaching it is 0.7, not 0.8
    middle = suggest_threshold(confidence, correct, 6, 0.75)
    assert middle is not None
    assert (middle.threshold, middle.precision, middle.recall) == (0.7, 0.8, 4 / 6)
    # 0.6: every prediction kept
    low = suggest_threshold(confidence, correct, 6, 0.6)
    assert low is not None and (low.threshold, low.precision) == (0.6, 4 / 6)


def test_no_threshold_when_even_the_most_confident_predictions_miss_the_target() -> None:
    # cat's most confident prediction (0.95) is the cow: 0, 1/2, 2/3 as the threshold falls
    cat = _small(0.95).per_label[0]
    assert cat.suggestion is None
    assert _small(0.7).per_label[0].suggestion is None
    # At 0.6, all three predictions are kept
    reached = _small(0.6).per_label[0].suggestion
    assert reached is not None
    assert (reached.threshold, reached.precision, reached.recall) == (0.6, 2 / 3, 2 / 3)


def test_a_threshold_keeps_every_prediction_tied_with_it() -> None:
    # 0.9 keeps both tied predictions (1 of 2 right): precision 1.0 is never reached
    tied = suggest_threshold(np.array([0.9, 0.9, 0.8]), np.array([True, False, True]), 3, 1.0)
    assert tied is None


def test_thresholds_are_rounded_down_so_they_keep_what_they_were_chosen_for() -> None:
    found = suggest_threshold(np.array([0.1234567]), np.array([True]), 1, 0.95)
    assert found is not None and found.threshold == 0.123456 <= 0.1234567


def test_to_dict_is_compact_json_with_the_wrong_images_capped() -> None:
    entry = _small(0.6).to_dict(max_wrong=2)

    assert json.loads(json.dumps(entry)) == entry
    assert entry["labels"]["cat"] == {
        "precision": 0.6667,
        "recall": 0.6667,
        "f1": 0.6667,
        "support": 3,
        "predicted": 3,
        "suggestion": {"threshold": 0.6, "precision": 0.6667, "recall": 0.6667},
    }
    assert entry["labels"]["cow"]["suggestion"] is None
    assert entry["macro"] == {"precision": 0.3889, "recall": 0.3889, "f1": 0.3889}
    assert entry["micro"] == {"precision": 0.6, "recall": 0.5, "f1": 0.5455}
    assert entry["confusion"]["columns"] == ["cat", "dog", "cow", "unknown"]
    assert entry["confusion"]["rows"]["dog"] == [0, 1, 0, 1]
    assert entry["wrong_count"] == 3 and len(entry["wrong"]) == 2
    assert entry["wrong"][0] == {
        "file": "cow/1.jpg",
        "true": "cow",
        "predicted": "cat",
        "confidence": 0.95,
    }
    assert (entry["count"], entry["accuracy"], entry["unknown_count"]) == (6, 0.5, 1)


def test_the_text_table_and_wrong_list() -> None:
    entry = _small(0.6).to_dict(max_wrong=2)

    lines = table_lines(entry)
    assert lines[0].split()[:5] == ["label", "precision", "recall", "F1", "support"]
    assert "60% precision" in lines[0]
    assert lines[1].split() == ["cat", "0.667", "0.667", "0.667", "3", "0.600", "(0.667,", "0.667)"]
    assert lines[3].split() == ["cow", "0.000", "0.000", "0.000", "1", "none", "reaches", "it"]
    assert [line.split()[0] for line in lines[4:]] == ["macro", "micro"]
    assert wrong_lines(entry) == [
        "cow/1.jpg: cow called cat (0.950)",
        "cat/3.jpg: cat called dog (0.800)",
        "… and 1 more",
    ]


def test_inputs_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="true label"):
        evaluate([UNKNOWN], [0], [0.5], LABELS, ["a"])
    with pytest.raises(ValueError, match="predicted"):
        evaluate([0], [3], [0.5], LABELS, ["a"])
    with pytest.raises(ValueError, match="length"):
        evaluate([0, 1], [0], [0.5], LABELS, ["a"])


def test_an_empty_split_has_zeros_not_errors() -> None:
    entry = evaluate([], [], [], LABELS, []).to_dict()

    assert entry["count"] == 0 and entry["macro"]["f1"] == 0.0 and entry["wrong"] == []


def test_short_names_are_relative_to_the_folder_of_class_folders() -> None:
    names = short_names([Path("/data/set/cat/1.jpg"), Path("/data/set/dog/sub/2.jpg")])

    assert names == ["cat/1.jpg", "dog/sub/2.jpg"]


def test_the_report_has_the_per_label_tables_wrong_images_and_an_unknown_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluation = score(np.array(TRUTH), np.array(PREDICTED), LABELS)
    per_label = _small(0.6)
    gate = check_gate(
        float_accuracy=0.5, int8_accuracy=0.5, min_int8_accuracy=0.9, max_drop_pp=1, test_count=6
    )
    columns_drawn: list[list[str]] = []

    def recording(confusion: np.ndarray, labels: Any, path: Path, title: str, *rest: Any) -> Path:
        columns_drawn.append(list(rest[0]) if rest else list(labels))
        assert confusion.shape == (3, len(columns_drawn[-1]))
        return plot_confusion_matrix(confusion, labels, path, title, *rest)

    monkeypatch.setattr("training.evaluation_report.plot_confusion_matrix", recording)
    pixels = np.full((6, 32, 32, 3), 200, np.uint8)

    files = write_report(
        tmp_path,
        version="v1",
        labels=LABELS,
        float_eval=evaluation,
        int8_eval=evaluation,
        gate=gate,
        history={"loss": [1.0, 0.5], "accuracy": [0.5, 0.8]},
        per_label={"test": per_label},
        images={"test": pixels},
    )

    text = files["classification_report.txt"].read_text()
    assert "per-label evaluation, int8 model, test split (6 images, 1 called unknown" in text
    assert "threshold for 60% precision" in text
    assert "images it got wrong, test split (3, most confident first):" in text
    assert "dog/2.jpg: dog called unknown (0.300)" in text
    assert columns_drawn == [["cat", "dog", "cow", "unknown"]]
    page = files["index.html"].read_text()
    assert page.count('<img src="data:image/jpeg;base64,') == 3
    assert "cow/1.jpg: cow called cat (0.950)" in page and "<pre>" in page
    assert len(page) < 20_000
