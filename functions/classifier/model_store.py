"""The live model: which version the pointer names, loaded once per version and cached on
local disk (/tmp in Lambda). A version it cannot load never stops a function that has a model:
it keeps serving its last good one (a cold one falls back to the pointer's `previous`)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .artifact import ArtifactError
from .artifact_files import metadata_digest, unpack_artifact
from .contracts import ARTIFACT_METADATA_FILE, ARTIFACT_MODEL_FILE, ModelPointer
from .model import LoadedModel, ModelUnavailableError

logger = logging.getLogger(__name__)
# A reclassify for a version this store does not serve re-reads the pointer at most this often.
WANTED_REREAD_SECONDS = 1.0


class _FetchError(ModelUnavailableError):
    """The artifact could not be fetched (S3 error, missing object), or is not the one the
    pointer's digest pins (replaced after promotion, and maybe put back): worth a retry."""


class ModelStore:
    """The live model: re-reads the pointer at most every `refresh_seconds`, loads a new
    version once, and caches artifacts on local disk (/tmp in Lambda) per version.

    A version that cannot be loaded is counted (`take_load_failures`) and logged at ERROR once.
    A warm store keeps serving its last good model; a cold one tries the pointer's `previous`,
    and raises ModelUnavailableError only when no version loads. What it loads, caches and
    remembers is a version with the model.json digest its pointer pins, so the same version
    promoted again with other bytes is another model. An artifact that is bad (unreadable,
    corrupt, digests or version wrong) is remembered and never fetched again; one that could
    not be fetched, or whose model.json is not the one the pointer pins (checked before it is
    cached), or a pointer that could not be read, is retried at the next refresh."""

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
        self._served = ""  # the `_key` of the pointer that `_model` was loaded for
        self._checked_at = float("-inf")
        self._unreported_load_ms: float | None = None
        self._unreported_failures = 0
        self._bad_versions: dict[str, str] = {}  # `_key` -> why it can never load
        self._logged: set[str] = set()  # what has had its ERROR line

    def current(self, wanted: str | None = None) -> LoadedModel:
        """The model to use now; raises ModelUnavailableError when there is none. Asked for
        another version than the one it serves (a reclassify sent after a promotion), it
        reads the pointer again without waiting out `refresh_seconds`, at most once per
        WANTED_REREAD_SECONDS."""
        with self._lock:
            now = self._clock()
            since = now - self._checked_at
            behind = (
                wanted is not None and self._model is not None and self._model.version != wanted
            )
            if self._model is not None and since < self._refresh_seconds:
                if not behind or since < WANTED_REREAD_SECONDS:
                    return self._model
            model = self._refresh()
            self._checked_at = now
            return model

    def take_load_ms(self) -> float | None:
        """How long the last model load took (download, unpack, load), reported once."""
        with self._lock:
            load_ms, self._unreported_load_ms = self._unreported_load_ms, None
            return load_ms

    def take_load_failures(self) -> int:
        """How many times a model could not be loaded since the last call."""
        with self._lock:
            failures, self._unreported_failures = self._unreported_failures, 0
            return failures

    def _refresh(self) -> LoadedModel:
        """The pointer's model, or the last good one when that cannot be loaded (a warm
        store); a cold store falls back to `previous`, and raises when nothing loads."""
        try:
            pointer = self._pointer()
        except ModelUnavailableError as error:
            if self._model is None:
                self._failed(str(error), str(error))
                raise
            return self._keep_serving(str(error), str(error))
        if self._model is not None and self._served == _key(pointer):
            return self._model
        loaded = self._attempt(pointer)
        if isinstance(loaded, LoadedModel):
            self._model, self._served = loaded, _key(pointer)
            return loaded
        if self._model is not None:
            problem = f"model {pointer.version} cannot be loaded ({loaded})"
            return self._keep_serving(pointer.version, problem)
        return self._fall_back(pointer, loaded)

    def _keep_serving(self, key: str, problem: str) -> LoadedModel:
        assert self._model is not None
        self._failed(key, f"{problem}; still serving model {self._model.version}")
        return self._model

    def _fall_back(self, pointer: ModelPointer, reason: str) -> LoadedModel:
        """A cold store whose pointer's version cannot be loaded: its `previous`, or raise."""
        previous = pointer.previous
        if previous is None:
            problem = f"no model can be loaded: {pointer.version}: {reason}; no previous version"
            self._failed(pointer.version, problem)
            raise ModelUnavailableError(problem)
        loaded = self._attempt(previous)
        if isinstance(loaded, LoadedModel):
            self._failed(
                pointer.version,
                f"model {pointer.version} cannot be loaded ({reason}); "
                f"serving the previous, {previous.version}",
            )
            self._model, self._served = loaded, _key(previous)
            return loaded
        problem = (
            f"no model can be loaded: {pointer.version}: {reason}; "
            f"previous {previous.version}: {loaded}"
        )
        self._failed(f"{pointer.version} {previous.version}", problem)
        raise ModelUnavailableError(problem)

    def _failed(self, key: str, problem: str) -> None:
        """Count one failed load; its ERROR line is written once per bad version (or
        pointer problem), not once per image."""
        self._unreported_failures += 1
        if key in self._logged:
            logger.debug("%s", problem)
            return
        self._logged.add(key)
        logger.error("%s", problem)

    def _attempt(self, pointer: ModelPointer) -> LoadedModel | str:
        """The pointer's model, or why it cannot be loaded now (remembered when no retry
        can help, so a bad version is fetched once)."""
        known = self._bad_versions.get(_key(pointer))
        if known is not None:
            return known
        started = time.perf_counter()
        try:
            model = self._load(pointer)
        except _FetchError as error:
            return str(error)
        except ModelUnavailableError as error:
            self._bad_versions[_key(pointer)] = str(error)
            return str(error)
        self._unreported_load_ms = (time.perf_counter() - started) * 1000
        return model

    def _pointer(self) -> ModelPointer:
        try:
            return self._read_pointer()
        except ModelUnavailableError:
            raise
        except ValueError as error:
            raise ModelUnavailableError(f"model pointer is malformed: {error}") from None
        except Exception as error:  # SSM or the network: the next refresh tries again
            raise ModelUnavailableError(f"model pointer cannot be read: {error}") from error

    def _load(self, pointer: ModelPointer) -> LoadedModel:
        directory = self._cache_dir / _safe_name(_key(pointer))
        if not (directory / ARTIFACT_MODEL_FILE).is_file():
            data = self._fetch(pointer)
            self._cache_dir.mkdir(parents=True, exist_ok=True)
            partial = Path(tempfile.mkdtemp(prefix=f"{directory.name}.", dir=self._cache_dir))
            try:
                unpack_artifact(data, partial)
                _require_checked(partial, pointer)  # never cached under the digest otherwise
                _publish(partial, directory)
            except ArtifactError as error:
                raise ModelUnavailableError(f"model {pointer.version}: {error}") from None
            finally:
                shutil.rmtree(partial, ignore_errors=True)
        _require_checked(directory, pointer)
        model = LoadedModel.from_directory(directory)
        if model.version != pointer.version:
            raise ModelUnavailableError(
                f"pointer names version {pointer.version} but its model.json says {model.version}"
            )
        return model

    def _fetch(self, pointer: ModelPointer) -> bytes:
        try:
            return self._fetch_artifact(pointer.uri)
        except Exception as error:  # S3 or the network: the next refresh tries again
            raise _FetchError(f"cannot fetch {pointer.uri}: {error}") from None


def _require_checked(directory: Path, pointer: ModelPointer) -> None:
    """The artifact is the one promotion checked: its model.json (which holds every other
    file's digest) has the pointer's digest, when the pointer records one."""
    if not pointer.digest:
        return
    actual = metadata_digest(directory)
    if actual != pointer.digest:
        raise _FetchError(
            f"model {pointer.version}: its {ARTIFACT_METADATA_FILE} (sha256 {actual[:12]}…) is "
            f"not the one promotion checked ({pointer.digest[:12]}…): the artifact was "
            "replaced after promotion"
        )


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


def _key(pointer: ModelPointer) -> str:
    """A model as the store knows it: its version and the model.json digest its pointer pins
    (the first 16 hex digits; none for a pointer written before digests)."""
    return f"{pointer.version}@{pointer.digest[:16]}" if pointer.digest else pointer.version


def _safe_name(version: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in version) or "model"
