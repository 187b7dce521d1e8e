"""Evaluation: run the int8 model as the Lambda does, score predictions, draw the report."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Evaluation:
    """Accuracy, the per-class report (dict and text) and the confusion matrix of one model."""

    accuracy: float
    count: int
    per_class: dict[str, Any]
    report_text: str
    confusion: np.ndarray


class Int8Model:
    """A full-integer TFLite model under LiteRT, one image at a time, as in the Lambda."""

    def __init__(self, tflite_model: bytes, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_content=tflite_model, num_threads=num_threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._input["shape"])

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Class probabilities for one H x W x 3 uint8 array."""
        self._interpreter.set_tensor(self._input["index"], quantize(image[np.newaxis], self._input))
        self._interpreter.invoke()
        return dequantize(self._interpreter.get_tensor(self._output["index"])[0], self._output)

    def predict_many(self, images: np.ndarray) -> tuple[np.ndarray, float]:
        """Probabilities for a stack of images, and the median milliseconds per invoke."""
        probabilities = []
        timings = []
        for image in images:
            start = time.perf_counter()
            probabilities.append(self.predict(image))
            timings.append((time.perf_counter() - start) * 1000)
        stacked = np.stack(probabilities) if probabilities else np.zeros((0, 0), np.float32)
        return stacked, float(np.median(timings)) if timings else 0.0


def quantize(values: np.ndarray, details: Mapping[str, Any]) -> np.ndarray:
    """Float input values to the tensor's integer type, with its own scale and zero point."""
    dtype = details["dtype"]
    scale, zero_point = details["quantization"]
    if not scale:
        return values.astype(dtype)
    info = np.iinfo(dtype)
    quantized = np.round(values.astype(np.float32) / scale + zero_point)
    return np.clip(quantized, info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, details: Mapping[str, Any]) -> np.ndarray:
    """Integer output back to float probabilities."""
    scale, zero_point = details["quantization"]
    if not scale:
        return values.astype(np.float32)
    return (values.astype(np.float32) - zero_point) * scale


def score(label_ids: np.ndarray, probabilities: np.ndarray, labels: Sequence[str]) -> Evaluation:
    """Accuracy, precision/recall/F1 per class and the confusion matrix."""
    from sklearn.metrics import classification_report, confusion_matrix

    predicted = np.argmax(probabilities, axis=1) if len(probabilities) else np.zeros(0, np.int64)
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
    confusion: np.ndarray, labels: Sequence[str], path: Path, title: str
) -> Path:
    """A confusion matrix PNG with counts in the cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(5.0, 0.6 * len(labels) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(confusion, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels=labels, rotation=45, ha="right")
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
