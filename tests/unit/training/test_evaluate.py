"""Scoring and the report files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from training.evaluate import score
from training.evaluation_report import write_report
from training.gate import check_gate

LABELS = ("cat", "dog", "cow")


def test_score_counts_accuracy_per_class_and_confusions() -> None:
    truth = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0])

    evaluation = score(truth, predicted, LABELS)

    assert evaluation.accuracy == 4 / 6
    assert evaluation.count == 6
    assert evaluation.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert evaluation.per_class["dog"]["recall"] == 1.0
    assert evaluation.per_class["dog"]["precision"] == round(2 / 3, 6)
    assert evaluation.per_class["cow"]["support"] == 2
    json.dumps(evaluation.per_class)  # model.json must be able to hold it
    assert "cat" in evaluation.report_text and "f1-score" in evaluation.report_text


def test_a_class_missing_from_the_test_split_still_has_a_row() -> None:
    evaluation = score(np.array([0, 0]), np.array([0, 1]), LABELS)

    assert evaluation.per_class["cow"]["support"] == 0
    assert evaluation.confusion.shape == (3, 3)


def test_report_writes_text_and_pictures(tmp_path: Path) -> None:
    evaluation = score(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 1]), LABELS)
    gate = check_gate(
        float_accuracy=0.75, int8_accuracy=0.75, min_int8_accuracy=0.9, max_drop_pp=1, test_count=4
    )
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]}

    files = write_report(
        tmp_path,
        version="v1",
        labels=LABELS,
        float_eval=evaluation,
        int8_eval=evaluation,
        gate=gate,
        history=history,
        heldout_float=evaluation,
        heldout_int8=evaluation,
    )

    assert sorted(p.relative_to(tmp_path).as_posix() for p in files.values()) == [
        "report/classification_report.txt",
        "report/confusion_matrix.png",
        "report/heldout_confusion_matrix.png",
        "report/learning_curves.png",
    ]
    text = files["classification_report.txt"].read_text()
    assert "FAILED" in text and "below the minimum" in text and "held-out set (4 images)" in text
    with Image.open(files["confusion_matrix.png"]) as picture:
        assert picture.format == "PNG" and picture.width > 300
