"""The live model: which version the pointer names, loaded once per version and cached on
local disk (/tmp in Lambda)."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .artifact import ArtifactError
from .artifact_files import unpack_artifact
from .contracts import ARTIFACT_MODEL_FILE, ModelPointer
from .model import LoadedModel, ModelUnavailableError


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
                _publish(partial, directory)
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


def _publish(partial: Path, directory: Path) -> None:
    """Move an unpacked model into place with one atomic rename, so a half-written model is
    never loaded. Stores that share the cache directory (the local poller's workers; on Lambda
    each execution environment has its own /tmp) may publish the same version at once: the
    first rename wins and the others keep its copy. A directory without the model file (left
    by an older layout) is replaced; a complete one is never removed, because a loader may be
    reading it."""
    for attempt in range(2):
        try:
            partial.rename(directory)
            return
        except OSError:
            if (directory / ARTIFACT_MODEL_FILE).is_file():
                return  # another store published this version first
            if attempt:
                raise
            shutil.rmtree(directory, ignore_errors=True)


def _safe_name(version: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in version) or "model"
