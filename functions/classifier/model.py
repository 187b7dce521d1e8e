"""The LiteRT int8 model: load once per version, quantize, run, dequantize, top-k.

Never TensorFlow: ai-edge-litert is a ~30 MB wheel that imports in milliseconds. When only
tflite-runtime is installed it is used instead (slower for int8, and frozen at 2.14).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .artifact import (
    OUTPUT_GROUPED_LOGITS,
    OUTPUT_MIXTURE,
    ArtifactError,
    ModelMetadata,
    read_metadata,
    unpack_artifact,
)
from .contracts import ARTIFACT_MODEL_FILE, ModelPointer

try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:  # pragma: no cover - exercised only where LiteRT is absent
    from tflite_runtime.interpreter import Interpreter


class ModelUnavailableError(RuntimeError):
    """No usable model (pointer missing, artifact missing or corrupt): transient and loud."""


@dataclass(frozen=True)
class Prediction:
    """One label and its probability."""

    label: str
    confidence: float


class LoadedModel:
    """One model version, ready to classify; one interpreter per thread (they are not
    thread-safe, and the local poller calls the handler from several threads)."""

    def __init__(self, model_bytes: bytes, metadata: ModelMetadata, load_ms: float = 0.0) -> None:
        self.metadata = metadata
        self.version = metadata.version
        self.spec = metadata.input
        self.labels = metadata.labels
        self.load_ms = load_ms
        self._model_bytes = model_bytes
        self._local = threading.local()
        interpreter = self._interpreter()  # fail now, not on the first image
        outputs = int(np.prod(interpreter.get_output_details()[0]["shape"]))
        self._decode = output_decoder(metadata, outputs)

    @classmethod
    def from_directory(cls, directory: Path) -> LoadedModel:
        """Load an unpacked artifact (model.tflite, labels.json, model.json)."""
        started = time.perf_counter()
        try:
            metadata = read_metadata(directory)
            model_bytes = (directory / ARTIFACT_MODEL_FILE).read_bytes()
            return cls(model_bytes, metadata, load_ms=(time.perf_counter() - started) * 1000)
        except (ArtifactError, OSError, ValueError, RuntimeError) as error:
            if isinstance(error, ModelUnavailableError):
                raise
            raise ModelUnavailableError(f"cannot load model from {directory}: {error}") from None

    def _interpreter(self) -> Any:
        interpreter = getattr(self._local, "interpreter", None)
        if interpreter is None:
            try:
                interpreter = Interpreter(model_content=self._model_bytes, num_threads=1)
                interpreter.allocate_tensors()
            except (ValueError, RuntimeError) as error:
                raise ModelUnavailableError(f"model {self.version} is corrupt: {error}") from None
            self._local.interpreter = interpreter
            self._local.input = interpreter.get_input_details()[0]
            self._local.output = interpreter.get_output_details()[0]
        return interpreter

    def predict(self, image: np.ndarray, top_k: int = 3) -> list[Prediction]:
        """Classify one H x W x 3 uint8 array; the best `top_k` labels, most likely first."""
        interpreter = self._interpreter()
        input_details, output_details = self._local.input, self._local.output
        interpreter.set_tensor(input_details["index"], quantize(image[np.newaxis], input_details))
        interpreter.invoke()
        raw = dequantize(interpreter.get_tensor(output_details["index"])[0], output_details)
        scores = self._decode(raw)
        k = min(top_k, len(self.labels))
        best = np.argsort(scores)[::-1][:k]
        return [Prediction(self.labels[i], float(scores[i])) for i in best]


def output_decoder(metadata: ModelMetadata, outputs: int) -> Callable[[np.ndarray], np.ndarray]:
    """The function from one image's dequantized outputs to its label probabilities."""
    kind, labels = metadata.output.kind, len(metadata.labels)
    if kind == OUTPUT_GROUPED_LOGITS:
        matrix = group_matrix(metadata, outputs)
        assert matrix is not None
        return lambda raw: np.asarray(matrix @ softmax(raw))
    if kind == OUTPUT_MIXTURE:
        sources, power = metadata.output.sources, metadata.output.power
        if outputs != sources + labels:
            raise ModelUnavailableError(
                f"model {metadata.version} has {outputs} outputs, not {sources} source logits "
                f"and {labels} head logits"
            )
        matrix = group_matrix(metadata, sources)
        assert matrix is not None
        return lambda raw: mixture(matrix @ softmax(raw[:sources]), softmax(raw[sources:]), power)
    if outputs != labels:
        raise ModelUnavailableError(
            f"model {metadata.version} has {outputs} outputs but {labels} labels"
        )
    return lambda raw: np.asarray(raw, np.float64)


def mixture(grouped: np.ndarray, head: np.ndarray, power: float) -> np.ndarray:
    """Label probabilities from the source classifier's grouped mass and a trained head's
    probabilities (see `OutputSpec`); rows of a batch or one image. They sum to 1."""
    grouped = np.asarray(grouped, np.float64)
    mass = grouped.sum(axis=-1, keepdims=True)
    weight = np.clip(mass, 0.0, 1.0) ** power
    share = np.divide(grouped, mass, out=np.zeros_like(grouped), where=mass > 0)
    return np.asarray(weight * share + (1.0 - weight) * np.asarray(head, np.float64))


def group_matrix(metadata: ModelMetadata, outputs: int) -> np.ndarray | None:
    """labels x outputs 0/1 matrix over the source logits of a grouped or mixture model,
    None for plain probabilities."""
    spec = metadata.output
    if spec.kind not in (OUTPUT_GROUPED_LOGITS, OUTPUT_MIXTURE):
        return None
    matrix = np.zeros((len(spec.groups), outputs), np.float64)
    for row, group in enumerate(spec.groups):
        if min(group) < 0 or max(group) >= outputs:
            raise ModelUnavailableError(
                f"model {metadata.version}: output group {row} names an output beyond {outputs}"
            )
        matrix[row, list(group)] = 1.0
    return matrix


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits over the last axis, in float64 so that thousands of small
    terms keep their sum."""
    values = np.asarray(logits, np.float64)
    exp = np.exp(values - values.max(axis=-1, keepdims=True))
    return np.asarray(exp / exp.sum(axis=-1, keepdims=True))


def quantize(values: np.ndarray, details: dict[str, Any]) -> np.ndarray:
    """Pixel values (0..255) to the input tensor's dtype, with the model's scale/zero point."""
    dtype = np.dtype(details["dtype"])
    if not np.issubdtype(dtype, np.integer):
        return np.asarray(values, dtype=dtype)
    scale, zero_point = details["quantization"]
    info = np.iinfo(dtype)
    if scale == 0:  # not quantized: raw integers
        return np.asarray(np.clip(values, info.min, info.max), dtype=dtype)
    quantized = np.round(values.astype(np.float32) / scale) + zero_point
    return np.asarray(np.clip(quantized, info.min, info.max), dtype=dtype)


def dequantize(values: np.ndarray, details: dict[str, Any]) -> np.ndarray:
    """The output tensor back to real numbers."""
    scale, zero_point = details["quantization"]
    if not np.issubdtype(values.dtype, np.integer) or scale == 0:
        return np.asarray(values, dtype=np.float32)
    return np.asarray((values.astype(np.float32) - zero_point) * scale, dtype=np.float32)


class ModelStore:
    """The live model: re-reads the pointer at most every `refresh_seconds`, loads a new
    version once, and caches artifacts on local disk (/tmp in Lambda) per version."""

    def __init__(
        self,
        *,
        read_pointer: Callable[[], ModelPointer],
        fetch_artifact: Callable[[str], bytes],
        cache_dir: Path,
        refresh_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read_pointer = read_pointer
        self._fetch_artifact = fetch_artifact
        self._cache_dir = cache_dir
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._model: LoadedModel | None = None
        self._checked_at = float("-inf")
        self._unreported_load_ms: float | None = None

    def current(self) -> LoadedModel:
        """The model to use now; raises ModelUnavailableError when there is none."""
        with self._lock:
            now = self._clock()
            if self._model is not None and now - self._checked_at < self._refresh_seconds:
                return self._model
            pointer = self._pointer()
            if self._model is None or self._model.version != pointer.version:
                started = time.perf_counter()
                self._model = self._load(pointer)
                self._unreported_load_ms = (time.perf_counter() - started) * 1000
            self._checked_at = now
            return self._model

    def take_load_ms(self) -> float | None:
        """How long the last model load took (download, unpack, load), reported once."""
        with self._lock:
            load_ms, self._unreported_load_ms = self._unreported_load_ms, None
            return load_ms

    def _pointer(self) -> ModelPointer:
        try:
            return self._read_pointer()
        except ModelUnavailableError:
            raise
        except ValueError as error:
            raise ModelUnavailableError(f"model pointer is malformed: {error}") from None

    def _load(self, pointer: ModelPointer) -> LoadedModel:
        directory = self._cache_dir / _safe_name(pointer.version)
        if not (directory / ARTIFACT_MODEL_FILE).is_file():
            data = self._fetch_artifact(pointer.uri)
            self._cache_dir.mkdir(parents=True, exist_ok=True)
            partial = Path(tempfile.mkdtemp(prefix=f"{directory.name}.", dir=self._cache_dir))
            try:
                unpack_artifact(data, partial)
                shutil.rmtree(directory, ignore_errors=True)
                partial.rename(directory)  # atomic: a half-written model is never loaded
            except ArtifactError as error:
                raise ModelUnavailableError(f"model {pointer.version}: {error}") from None
            finally:
                shutil.rmtree(partial, ignore_errors=True)
        model = LoadedModel.from_directory(directory)
        if model.version != pointer.version:
            raise ModelUnavailableError(
                f"pointer names version {pointer.version} but its model.json says {model.version}"
            )
        return model


def _safe_name(version: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in version) or "model"
