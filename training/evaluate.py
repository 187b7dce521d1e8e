"""Evaluation: run the int8 model as the Lambda does, score predictions, draw the report."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier.artifact import ModelMetadata
from classifier.model import Decider, LoadedModel


@dataclass(frozen=True)
class Evaluation:
    """Accuracy, the per-class report (dict and text) and the confusion matrix of one model."""

    accuracy: float
    count: int
    per_class: dict[str, Any]
    report_text: str
    confusion: np.ndarray


class Int8Outputs:
    """The int8 model run by the Lambda's own model code, one image at a time: each image
    array's dequantized outputs are computed once and kept (with the array, so its id is
    not reused), however many evaluations and decisions read them."""

    def __init__(self, tflite_model: bytes, metadata: ModelMetadata) -> None:
        self._model = LoadedModel(tflite_model, metadata)
        self._seen: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self._run(images)[1]

    def latency_ms(self, images: np.ndarray) -> float:
        """The median milliseconds per image over that array."""
        return self._run(images)[2]

    def label_ids(self, metadata: ModelMetadata, images: np.ndarray) -> np.ndarray:
        """The label id (-1: unknown) of each image, decided as `metadata` says."""
        raw = self(images)
        if not len(raw):
            return np.zeros(0, np.int64)
        return Decider(metadata, raw.shape[1]).label_ids(raw)

    def decided(self, metadata: ModelMetadata, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each image's label id (-1: unknown), decided as `metadata` says, and the
        calibrated probability of its top label (what the function reports as confidence)."""
        raw = self(images)
        if not len(raw):
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        decider = Decider(metadata, raw.shape[1])
        return decider.label_ids(raw), np.max(decider.probabilities(raw), axis=-1)

    def _run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        if id(images) not in self._seen:
            rows, timings = [], []
            for image in images:
                start = time.perf_counter()
                rows.append(self._model.raw(image))
                timings.append((time.perf_counter() - start) * 1000)
            raw = np.stack(rows) if rows else np.zeros((0, 0), np.float32)
            latency = float(np.median(timings)) if timings else 0.0
            self._seen[id(images)] = (images, raw, latency)
        return self._seen[id(images)]


def score(label_ids: np.ndarray, predicted: np.ndarray, labels: Sequence[str]) -> Evaluation:
    """Accuracy, precision/recall/F1 per class and the confusion matrix of predicted ids."""
    from sklearn.metrics import classification_report, confusion_matrix

    classes = list(range(len(labels)))
    options: dict[str, Any] = {
        "labels": classes,
        "target_names": list(labels),
        "zero_division": 0,
    }
    report = classification_report(label_ids, predicted, output_dict=True, **options)
    text = classification_report(label_ids, predicted, digits=4, **options)
    accuracy = float(np.mean(predicted == label_ids)) if len(label_ids) else 0.0
    return Evaluation(
        accuracy=accuracy,
        count=int(len(label_ids)),
        per_class={
            label: {key: _plain(value) for key, value in report[label].items()} for label in labels
        },
        report_text=text,
        confusion=confusion_matrix(label_ids, predicted, labels=classes),
    )


def plot_confusion_matrix(
    confusion: np.ndarray,
    labels: Sequence[str],
    path: Path,
    title: str,
    columns: Sequence[str] | None = None,
) -> Path:
    """A confusion matrix PNG with counts in the cells; `columns` names the predicted
    columns when they are not the labels (the labels and "unknown")."""
    columns = labels if columns is None else columns
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(5.0, 0.6 * len(columns) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(confusion, cmap="Blues")
    axes.set_xticks(range(len(columns)), labels=columns, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels=labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    threshold = confusion.max() / 2 if confusion.size else 0
    for (row, column), count in np.ndenumerate(confusion):
        colour = "white" if count > threshold else "black"
        axes.text(column, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_learning_curves(
    history: Mapping[str, Sequence[float]], path: Path, fine_tune_from: int | None = None
) -> Path:
    """Loss and accuracy per epoch, training and validation; a line marks fine-tuning."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4))
    for axes, metric in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = list(history.get(prefix + metric, []))
            if values:
                epochs = range(1, len(values) + 1)
                axes.plot(epochs, values, style, marker=".", label=prefix + metric or metric)
        if fine_tune_from is not None:
            axes.axvline(fine_tune_from + 0.5, color="grey", linestyle=":", label="fine-tune")
        axes.set_xlabel("epoch")
        axes.set_title(metric)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    return round(float(value), 6) if isinstance(value, float | np.floating) else value
