"""`imgclf model show`'s formatting of a model.json: pure, no AWS."""

from __future__ import annotations

import json
from typing import Any

from imgclf.model_show import render, show_lines
from training.per_label import UNKNOWN, evaluate

LABELS = ("cat", "dog", "cow")


def _model_json(**metrics: Any) -> dict[str, Any]:
    return {
        "version": "v7",
        "architecture": "efficientnet_lite0",
        "created_at": "2025-01-02T03:04:05+00:00",
        "labels": list(LABELS),
        "unknown": {"max_other": 0.35, "min_confidence": 0.4, "keep_confidence": None},
        "gate": {"passed": False, "reasons": ["int8 accuracy 50.00% is below the minimum"]},
        "metrics": {
            "int8_accuracy": 0.5,
            "float_accuracy": 0.52,
            "drop_pp": 2.0,
            "test_count": 6,
            "heldout_accuracy": 0.75,
            "heldout_count": 4,
            "int8_size_bytes": 4096,
            "int8_latency_ms_p50": 1.25,
            "evaluations": {
                "real-photos": {"fingerprint": "sha256:x", "count": 9, "accuracy": 0.8889}
            },
            **metrics,
        },
    }


def _per_label() -> dict[str, Any]:
    test = evaluate(
        [0, 0, 0, 1, 1, 2],
        [0, 0, 1, 1, UNKNOWN, 0],
        [0.9, 0.6, 0.8, 0.7, 0.3, 0.95],
        LABELS,
        ["cat/1", "cat/2", "cat/3", "dog/1", "dog/2", "cow/1"],
        target_precision=0.6,
    )
    heldout = evaluate([0, 1, 2, 2], [0, 1, 2, 2], [0.9] * 4, LABELS, ["a", "b", "c", "d"])
    return {"test": test.to_dict(max_wrong=2), "heldout": heldout.to_dict()}


def test_show_prints_the_headline_the_rule_and_a_per_label_table_per_split() -> None:
    lines = show_lines(_model_json(per_label=_per_label()))

    assert lines[:8] == [
        "model v7 (efficientnet_lite0), created 2025-01-02T03:04:05+00:00",
        "labels (3): cat, dog, cow",
        "gate: failed (int8 accuracy 50.00% is below the minimum)",
        "test split: int8 accuracy 50.00% (float 52.00%, drop 2 pp) on 6 images",
        "held-out set: int8 accuracy 75.00% on 4 images",
        "evaluation sets: real-photos 88.9%",
        "int8 model: 4 KiB, 1.25 ms per image",
        "unknown rule: max_other 0.35, min_confidence 0.4",
    ]
    text = "\n".join(lines)
    assert "per-label evaluation, test split: 6 images, 50.00% right, 1 called unknown" in text
    assert "per-label evaluation, held-out set: 4 images, 100.00% right, 0 called unknown" in text
    assert "threshold for 60% precision (precision, recall)" in text
    rows: dict[str, list[str]] = {}  # the test split's, listed first
    for line in lines:
        if line.startswith(("cat ", "cow ")):
            rows.setdefault(line.split()[0], line.split())
    assert rows["cat"] == ["cat", "0.667", "0.667", "0.667", "3", "0.600", "(0.667,", "0.667)"]
    assert rows["cow"][-3:] == ["none", "reaches", "it"]
    assert "images it got wrong: 3; model.json lists 2 (--format json)" in lines
    assert "images it got wrong: 0" in lines


def test_a_model_made_before_per_label_evaluation_shows_what_it_has() -> None:
    old = _model_json()
    old["gate"] = {"passed": True, "reasons": []}
    old["unknown"] = {"max_other": None, "min_confidence": None, "keep_confidence": None}

    lines = show_lines(old)

    assert "gate: passed" in lines
    assert "unknown rule: none (the top label is always given)" in lines
    assert lines[-1] == "no per-label evaluation in model.json"


def test_a_rule_training_switched_off_says_why() -> None:
    # Given a model trained on too few validation photos to choose "unknown" with
    few = _model_json()
    reason = (
        "disabled: 12 validation images cannot show that 'unknown' takes at most 1% of the "
        "labels' own photos (it needs 100); every image gets a label"
    )
    few["unknown"] = {"max_other": None, "min_confidence": None, "chosen_by": reason}
    # Then model show gives the reason beside "none"
    assert f"unknown rule: none (the top label is always given): {reason}" in show_lines(few)


def test_the_fixed_rule_of_a_few_shot_model_says_why_beside_its_thresholds() -> None:
    # Given a model whose validation photos were too few to choose "unknown", so it has the
    # fixed rule
    few = _model_json()
    reason = (
        "fixed: 12 validation images cannot show that 'unknown' takes at most 1% of the "
        "labels' own photos (it needs 100); 'unknown' only when the evidence of something "
        "else is 0.9 or more and no label reaches 0.9"
    )
    few["unknown"] = {"max_other": 0.9, "keep_confidence": 0.9, "chosen_by": reason}
    # Then model show gives its thresholds and why they were not chosen
    assert f"unknown rule: max_other 0.9, keep_confidence 0.9: {reason}" in show_lines(few)


def test_a_model_with_no_test_split_shows_its_evaluation_sets_per_label() -> None:
    # Given a day-0 model scored on the user's folder of photos (no test split of its own)
    day0 = _model_json(primary_set="user")
    day0["metrics"]["evaluations"]["user"] = {
        "count": 8,
        "accuracy": 0.75,
        "per_class": {
            "cat": {"precision": 1.0, "recall": 0.5, "f1-score": 0.666667, "support": 4.0},
            "dog": {"precision": 0.666667, "recall": 1.0, "f1-score": 0.8, "support": 4.0},
        },
    }
    lines = show_lines(day0)
    # Then the headline names the set its gate read, not a test split it does not have
    headline = "user (the gate's set): int8 accuracy 50.00% (float 52.00%, drop 2 pp) on 6 images"
    assert headline in lines
    # And its per-label scores are shown, not "no per-label evaluation"
    at = lines.index("per-label scores, evaluation set user: 8 images, 75.00% right")
    assert lines[at + 1 :] == [
        "label  precision  recall     F1  support",
        "cat        1.000   0.500  0.667        4",
        "dog        0.667   1.000  0.800        4",
    ]


def test_a_generic_model_says_which_labels_it_gives() -> None:
    generic = {**_model_json(), "labels": []}
    generic["unknown"] = {"max_other": None, "min_confidence": None, "keep_confidence": None}
    generic["hierarchy"] = {"version": "wn30-abc", "classes": 1000, "source": "WordNet 3.0"}
    lines = show_lines(generic)
    assert "unknown rule: unknown when no generic label reaches the environment's minimum" in lines
    assert (
        "generic labels: hierarchy wn30-abc over 1000 ImageNet classes; each image keeps the "
        "labels at or above GENERIC_MIN_CONFIDENCE (default 0.15), up to MAX_LABELS "
        "(default 10)" in lines
    )
    assert "  source: WordNet 3.0" in lines


def test_a_bare_model_json_is_shown_without_errors() -> None:
    lines = show_lines({"version": "tiny", "labels": ["red"]})

    assert lines[:3] == ["model tiny (?), created ?", "labels (1): red", "gate: not recorded"]
    assert "metrics: none recorded" in lines


def test_json_format_is_model_json_itself() -> None:
    metadata = _model_json(per_label=_per_label())

    assert json.loads(render(metadata, "json")) == metadata
    assert render(metadata, "table") == "\n".join(show_lines(metadata))
