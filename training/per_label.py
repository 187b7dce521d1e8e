"""Per-label evaluation, as Amazon Rekognition Custom Labels reports it: precision, recall and
F1 per label and overall, a per-label threshold suggestion, the confusion matrix with an
"unknown" column, and the images the model got wrong. Pure numpy: no TensorFlow.

Inputs are the model's decisions as given (its own rule, "unknown" included): per image the
true label id, the predicted label id (UNKNOWN, -1: the model called it unknown, which is
wrong and a prediction of no label) and the confidence of its top label (the calibrated
probability the function reports). For label L:
- precision = images correctly called L / images called L (0 when none is called L);
- recall = images correctly called L / images that are L (0 when there are none);
- F1 = their harmonic mean (0 when both are 0).
Overall, `macro` averages the labels that occur in the truth or the predictions; `micro`
pools every image: its recall is the accuracy, its precision counts only images the model
gave a label (not unknown).

The threshold suggestion for label L: among the confidences of the images called L, the
lowest threshold t such that keeping only L's predictions with confidence >= t reaches the
target precision. A lower threshold keeps more predictions, so the lowest one reaching the
target keeps the most recall. None when no threshold reaches it (L is never predicted, or
even its most confident predictions are wrong too often). Thresholds are rounded down, so a
rounded threshold still keeps the images it was chosen to keep.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

UNKNOWN = -1
UNKNOWN_NAME = "unknown"
DEFAULT_TARGET_PRECISION = 0.95
MAX_WRONG_LISTED = 50  # wrong images model.json lists (their count is always there)
DIGITS = 4


@dataclass(frozen=True)
class Suggestion:
    """The lowest confidence threshold on a label's predictions that reaches the target
    precision, and the precision and recall the label would have with it."""

    threshold: float
    precision: float
    recall: float


@dataclass(frozen=True)
class LabelScores:
    """One label's figures at the model's decisions."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int  # images that are this label
    predicted: int  # images the model called this label
    suggestion: Suggestion | None


@dataclass(frozen=True)
class WrongImage:
    """An image the model got wrong; `index` is its position in the evaluated split."""

    index: int
    file: str
    true: str
    predicted: str  # a label, or UNKNOWN_NAME
    confidence: float  # of its top label, even when it was called unknown


@dataclass(frozen=True)
class PerLabelEvaluation:
    """Everything of one split; `to_dict()` is model.json's form."""

    labels: tuple[str, ...]
    per_label: tuple[LabelScores, ...]
    macro: tuple[float, float, float]  # precision, recall, F1
    micro: tuple[float, float, float]  # precision (of labelled images), recall (= accuracy), F1
    count: int
    unknown: int  # images called unknown
    confusion: np.ndarray  # true label x (labels + unknown)
    wrong: tuple[WrongImage, ...]  # most confident first
    target_precision: float

    @property
    def accuracy(self) -> float:
        return self.micro[1]

    def to_dict(self, max_wrong: int = MAX_WRONG_LISTED) -> dict[str, Any]:
        """A compact, JSON-friendly form: floats rounded, at most `max_wrong` wrong images."""
        return {
            "count": self.count,
            "accuracy": _round(self.accuracy),
            "unknown_count": self.unknown,
            "target_precision": self.target_precision,
            "macro": _triple(self.macro),
            "micro": _triple(self.micro),
            "labels": {scores.label: _label_dict(scores) for scores in self.per_label},
            "confusion": {
                "columns": [*self.labels, UNKNOWN_NAME],
                "rows": {
                    label: [int(n) for n in row]
                    for label, row in zip(self.labels, self.confusion, strict=True)
                },
            },
            "wrong_count": len(self.wrong),
            "wrong": [
                {
                    "file": image.file,
                    "true": image.true,
                    "predicted": image.predicted,
                    "confidence": _round(image.confidence),
                }
                for image in self.wrong[:max_wrong]
            ],
        }


def evaluate(
    truth: Sequence[int] | np.ndarray,
    predicted: Sequence[int] | np.ndarray,
    confidence: Sequence[float] | np.ndarray,
    labels: Sequence[str],
    files: Sequence[str],
    target_precision: float = DEFAULT_TARGET_PRECISION,
) -> PerLabelEvaluation:
    """The per-label evaluation of one split (module docstring: the definitions)."""
    truth, predicted = np.asarray(truth, np.int64), np.asarray(predicted, np.int64)
    confidence = np.asarray(confidence, np.float64)
    classes = len(labels)
    if not len(truth) == len(predicted) == len(confidence) == len(files):
        raise ValueError("truth, predicted, confidence and files differ in length")
    if np.any((truth < 0) | (truth >= classes)):
        raise ValueError("every true label id must be one of the labels")
    if np.any((predicted < UNKNOWN) | (predicted >= classes)):
        raise ValueError(f"a predicted id must be a label's or {UNKNOWN} (unknown)")
    if not 0 < target_precision <= 1:
        raise ValueError("the target precision must be in (0, 1]")
    correct = predicted == truth
    per_label = tuple(
        _label_scores(label, i, truth, predicted, confidence, target_precision)
        for i, label in enumerate(labels)
    )
    seen = [s for s in per_label if s.support or s.predicted]
    macro = tuple(
        float(np.mean([getattr(s, k) for s in seen])) if seen else 0.0
        for k in ("precision", "recall", "f1")
    )
    labelled = int(np.sum(predicted != UNKNOWN))
    micro_precision = _ratio(int(correct.sum()), labelled)
    micro_recall = _ratio(int(correct.sum()), len(truth))
    confusion = np.zeros((classes, classes + 1), np.int64)
    np.add.at(confusion, (truth, np.where(predicted == UNKNOWN, classes, predicted)), 1)
    return PerLabelEvaluation(
        labels=tuple(labels),
        per_label=per_label,
        macro=(macro[0], macro[1], macro[2]),
        micro=(micro_precision, micro_recall, _f1(micro_precision, micro_recall)),
        count=len(truth),
        unknown=int(np.sum(predicted == UNKNOWN)),
        confusion=confusion,
        wrong=_wrong(truth, predicted, confidence, labels, files),
        target_precision=target_precision,
    )


def suggest_threshold(
    confidence: np.ndarray, correct: np.ndarray, support: int, target_precision: float
) -> Suggestion | None:
    """The lowest threshold among one label's predictions (their confidences, and whether
    each was right) that reaches `target_precision`, with its precision and recall."""
    if not len(confidence):
        return None
    order = np.argsort(-confidence, kind="stable")
    ranked, hits = confidence[order], correct[order].astype(np.int64)
    kept_right = np.cumsum(hits)
    kept = np.arange(1, len(ranked) + 1)
    # A threshold keeps every prediction at or above it: cut only after the last of a tie.
    cuts = np.flatnonzero(np.append(ranked[1:] < ranked[:-1], True))
    reaching = cuts[kept_right[cuts] >= target_precision * kept[cuts] - 1e-12]
    if not len(reaching):
        return None
    cut = int(reaching[-1])
    return Suggestion(
        threshold=math.floor(float(ranked[cut]) * 10**6) / 10**6,
        precision=float(kept_right[cut] / kept[cut]),
        recall=_ratio(int(kept_right[cut]), support),
    )


def short_names(files: Sequence[Path | str]) -> list[str]:
    """File names relative to the folder that holds the class folders (`dog/img-3.jpg`),
    or as given when they share no such folder."""
    paths = [Path(file) for file in files]
    try:
        root = os.path.commonpath([path.parent.parent for path in paths]) if paths else ""
    except ValueError:  # absolute and relative paths mixed
        return [path.as_posix() for path in paths]
    return [
        path.relative_to(root).as_posix() if root and path.is_relative_to(root) else path.as_posix()
        for path in paths
    ]


def table_lines(entry: Mapping[str, Any]) -> list[str]:
    """One split's per-label table, as text, from its `to_dict()` form (model.json's: the
    report and `imgclf model show` print the same): precision, recall, F1, support and the
    suggested threshold with the precision and recall it would give, then macro and micro."""
    labels = entry.get("labels") or {}
    target = entry.get("target_precision", DEFAULT_TARGET_PRECISION)
    width = max([len("label"), *(len(str(label)) for label in labels)])
    # Scores with no `suggestion` key at all (an evaluation set's per_class) have no column
    suggesting = any("suggestion" in scores for scores in labels.values())
    threshold = f"threshold for {float(target):.0%} precision (precision, recall)"
    lines = [
        f"{'label':<{width}}  precision  recall     F1  support  {threshold if suggesting else ''}"
    ]
    for label, scores in labels.items():
        suggested = _suggested(scores.get("suggestion")) if suggesting else ""
        lines.append(
            f"{label:<{width}}  {_cells(scores)}  {int(scores.get('support', 0)):>7}  {suggested}"
        )
    for name in ("macro", "micro"):
        if isinstance(entry.get(name), Mapping):
            lines.append(f"{name:<{width}}  {_cells(entry[name])}  {'':>7}")
    return [line.rstrip() for line in lines]


def wrong_lines(entry: Mapping[str, Any]) -> list[str]:
    """The wrong images model.json lists for one split, one line each, and how many more."""
    listed = entry.get("wrong") or []
    lines = [
        f"{image.get('file')}: {image.get('true')} called {image.get('predicted')} "
        f"({float(image.get('confidence', 0.0)):.3f})"
        for image in listed
    ]
    more = int(entry.get("wrong_count", len(listed))) - len(listed)
    return lines + ([f"… and {more} more"] if more > 0 else [])


def _suggested(suggestion: Any) -> str:
    """A label's suggested threshold cell: "0.600 (0.667, 0.667)", or that none reaches it."""
    if not isinstance(suggestion, Mapping):
        return "none reaches it"
    return (
        f"{suggestion['threshold']:.3f} ({suggestion['precision']:.3f}, {suggestion['recall']:.3f})"
    )


def _cells(scores: Mapping[str, Any]) -> str:
    precision, recall, f1 = (float(scores.get(k, 0.0)) for k in ("precision", "recall", "f1"))
    return f"{precision:>9.3f}  {recall:>6.3f}  {f1:>5.3f}"


def _label_scores(
    label: str,
    index: int,
    truth: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    target_precision: float,
) -> LabelScores:
    called = predicted == index
    support = int(np.sum(truth == index))
    right = int(np.sum(called & (truth == index)))
    precision, recall = _ratio(right, int(called.sum())), _ratio(right, support)
    return LabelScores(
        label=label,
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        support=support,
        predicted=int(called.sum()),
        suggestion=suggest_threshold(
            confidence[called], truth[called] == index, support, target_precision
        ),
    )


def _wrong(
    truth: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    labels: Sequence[str],
    files: Sequence[str],
) -> tuple[WrongImage, ...]:
    indices = np.flatnonzero(predicted != truth)
    indices = indices[np.argsort(-confidence[indices], kind="stable")]
    return tuple(
        WrongImage(
            index=i,
            file=str(files[i]),
            true=labels[int(truth[i])],
            predicted=UNKNOWN_NAME if predicted[i] == UNKNOWN else labels[int(predicted[i])],
            confidence=float(confidence[i]),
        )
        for i in map(int, indices)
    )


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _round(value: float) -> float:
    return round(float(value), DIGITS)


def _triple(values: tuple[float, float, float]) -> dict[str, float]:
    return dict(zip(("precision", "recall", "f1"), map(_round, values), strict=True))


def _label_dict(scores: LabelScores) -> dict[str, Any]:
    suggestion = scores.suggestion
    return {
        "precision": _round(scores.precision),
        "recall": _round(scores.recall),
        "f1": _round(scores.f1),
        "support": scores.support,
        "predicted": scores.predicted,
        "suggestion": None
        if suggestion is None
        else {
            "threshold": suggestion.threshold,
            "precision": _round(suggestion.precision),
            "recall": _round(suggestion.recall),
        },
    }
