"""ModelStore under a bad pointer: a warm store keeps its last good model, a cold one falls
back to the pointer's previous, and a version is fetched again only when a retry can help."""

from __future__ import annotations

import io
import json
import logging
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from classifier.contracts import ModelPointer
from classifier.model import ModelUnavailableError
from classifier.model_store import ModelStore
from tests.fixtures.artifacts import pointer_digest

GOOD = ModelPointer("s3://m/good-1", "good-1")
BROKEN = ModelPointer("s3://m/broken-1", "broken-1")
NEXT = ModelPointer("s3://m/good-2", "good-2")
REFRESH_SECONDS = 60


def artifact(directory: Path, version: str, **replace: bytes) -> bytes:
    """The tiny model's model.tar.gz as `version`, with some files replaced."""
    metadata = json.loads((directory / "model.json").read_text())
    metadata["version"] = version
    files = {path.name: path.read_bytes() for path in directory.iterdir()}
    files.update({"model.json": json.dumps(metadata).encode(), **replace})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class FakeS3:
    """Artifacts by URI; records every fetch; an URI in `failing` raises like an outage."""

    def __init__(self, artifacts: dict[str, bytes]) -> None:
        self.artifacts = artifacts
        self.fetched: list[str] = []
        self.failing: set[str] = set()

    def __call__(self, uri: str) -> bytes:
        self.fetched.append(uri)
        if uri in self.failing:
            raise ConnectionError("S3 is unreachable")
        return self.artifacts[uri]


class Pointer:
    """The SSM parameter: whatever was written last; unreadable while `failing`."""

    def __init__(self, pointer: ModelPointer) -> None:
        self.value = pointer
        self.failing = False

    def __call__(self) -> ModelPointer:
        if self.failing:
            raise ConnectionError("SSM is unreachable")
        return self.value


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def artifacts(tiny_model_dir: Path) -> dict[str, bytes]:
    """Two good versions and one whose model.tflite is random bytes (its digest fails)."""
    return {
        GOOD.uri: artifact(tiny_model_dir, GOOD.version),
        NEXT.uri: artifact(tiny_model_dir, NEXT.version),
        BROKEN.uri: artifact(
            tiny_model_dir, BROKEN.version, **{"model.tflite": bytes(range(256)) * 8}
        ),
    }


def truncate(artifacts: dict[str, bytes]) -> None:
    """Make broken-1 a truncated model.tar.gz: it fails before it reaches the disk cache."""
    artifacts[BROKEN.uri] = artifacts[GOOD.uri][:100]


def new_store(
    tmp_path: Path, pointer: Pointer, s3: FakeS3, clock: Callable[[], float]
) -> ModelStore:
    return ModelStore(
        read_pointer=pointer,
        fetch_artifact=s3,
        cache_dir=tmp_path / "cache",
        refresh_seconds=REFRESH_SECONDS,
        clock=clock,
    )


def warm_counted_store(
    tmp_path: Path, artifacts: dict[str, bytes]
) -> tuple[Pointer, Clock, list[float], ModelStore]:
    """A store on good-1 that has read the pointer once, at 0 s; `reads` records the time of
    every pointer read."""
    pointer, clock, reads = Pointer(GOOD), Clock(), []

    def read() -> ModelPointer:
        reads.append(clock.now)
        return pointer()

    models = ModelStore(
        read_pointer=read,
        fetch_artifact=FakeS3(artifacts),
        cache_dir=tmp_path / "cache",
        refresh_seconds=REFRESH_SECONDS,
        clock=clock,
    )
    models.current()
    return pointer, clock, reads, models


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("broken", ["corrupt model.tflite", "truncated model.tar.gz"])
def test_a_warm_store_keeps_its_good_model_when_the_pointer_names_a_corrupt_one(
    tmp_path: Path, artifacts: dict[str, bytes], caplog: pytest.LogCaptureFixture, broken: str
) -> None:
    if broken.startswith("truncated"):
        truncate(artifacts)
    # Given a warm store serving good-1
    pointer, s3, clock = Pointer(GOOD), FakeS3(artifacts), Clock()
    models = new_store(tmp_path, pointer, s3, clock)
    assert models.current().version == GOOD.version and models.take_load_failures() == 0
    # When the pointer is moved to a corrupt artifact and many images arrive over 5 refreshes
    pointer.value = BROKEN
    served = []
    for step in range(50):
        clock.now = REFRESH_SECONDS + step * REFRESH_SECONDS / 10
        served.append(models.current().version)
    # Then every image is served by good-1, the bad version was fetched once, one ERROR says
    # why, and each refresh that met it counted one failure
    assert set(served) == {GOOD.version}
    assert s3.fetched == [GOOD.uri, BROKEN.uri]
    assert len(errors(caplog)) == 1
    assert "broken-1 cannot be loaded" in errors(caplog)[0] and "good-1" in errors(caplog)[0]
    assert models.take_load_failures() == 5 and models.take_load_failures() == 0
    # And a later good pointer is loaded at the next refresh
    pointer.value = NEXT
    clock.now += REFRESH_SECONDS
    assert models.current().version == NEXT.version
    assert s3.fetched[-1] == NEXT.uri and models.take_load_failures() == 0


def test_a_cold_store_falls_back_to_the_pointers_previous(
    tmp_path: Path, artifacts: dict[str, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a cold store and a pointer to a corrupt version that keeps the good one as previous
    pointer = Pointer(ModelPointer(BROKEN.uri, BROKEN.version, previous=GOOD))
    models = new_store(tmp_path, pointer, FakeS3(artifacts), Clock())
    # When it is asked for a model
    model = models.current()
    # Then it serves the previous version, counts one failure and logs it once
    assert model.version == GOOD.version
    assert models.take_load_failures() == 1
    assert len(errors(caplog)) == 1 and "serving the previous, good-1" in errors(caplog)[0]


def test_a_cold_store_with_no_loadable_version_raises_naming_both(
    tmp_path: Path, artifacts: dict[str, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a pointer to a corrupt version whose previous is not a model.tar.gz
    artifacts["s3://m/old-1"] = b"not a tarball"
    old = ModelPointer("s3://m/old-1", "old-1")
    pointer = Pointer(ModelPointer(BROKEN.uri, BROKEN.version, previous=old))
    s3 = FakeS3(artifacts)
    models = new_store(tmp_path, pointer, s3, Clock())
    # When images ask for a model, twice
    for _ in range(2):
        with pytest.raises(ModelUnavailableError) as raised:
            models.current()
        # Then the error names both versions and why each cannot be loaded
        message = str(raised.value)
        assert "no model can be loaded: broken-1: " in message
        assert "previous old-1: " in message and "not a readable model.tar.gz" in message
    # And both failures count, with one ERROR line, and neither bad artifact is fetched again
    assert models.take_load_failures() == 2
    assert errors(caplog) == [message]
    assert s3.fetched == [BROKEN.uri, old.uri]


def test_a_cold_store_without_a_previous_raises_as_before(
    tmp_path: Path, artifacts: dict[str, bytes]
) -> None:
    models = new_store(tmp_path, Pointer(BROKEN), FakeS3(artifacts), Clock())
    with pytest.raises(ModelUnavailableError, match="broken-1: .*; no previous version"):
        models.current()
    assert models.take_load_failures() == 1


def test_a_fetch_error_is_retried_at_the_next_refresh(
    tmp_path: Path, artifacts: dict[str, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a warm store on good-1, and S3 failing when the pointer moves to good-2
    pointer, s3, clock = Pointer(GOOD), FakeS3(artifacts), Clock()
    models = new_store(tmp_path, pointer, s3, clock)
    models.current()
    pointer.value, s3.failing = NEXT, {NEXT.uri}
    clock.now = REFRESH_SECONDS
    # When images arrive: good-1 serves them, and good-2 is not fetched again before a refresh
    assert models.current().version == GOOD.version
    clock.now += REFRESH_SECONDS / 2
    assert models.current().version == GOOD.version
    assert s3.fetched == [GOOD.uri, NEXT.uri] and models.take_load_failures() == 1
    assert "cannot fetch s3://m/good-2: S3 is unreachable" in errors(caplog)[0]
    # Then once S3 is back, the next refresh fetches good-2 again and serves it
    s3.failing = set()
    clock.now += REFRESH_SECONDS
    assert models.current().version == NEXT.version
    assert s3.fetched == [GOOD.uri, NEXT.uri, NEXT.uri]


def test_a_warm_store_keeps_its_model_while_the_pointer_cannot_be_read(
    tmp_path: Path, artifacts: dict[str, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a warm store, then SSM failing
    pointer, clock = Pointer(GOOD), Clock()
    models = new_store(tmp_path, pointer, FakeS3(artifacts), clock)
    models.current()
    pointer.failing = True
    clock.now = REFRESH_SECONDS
    # Then the last good model is served, the failure counted, and SSM asked again later
    assert models.current().version == GOOD.version and models.take_load_failures() == 1
    assert "model pointer cannot be read: SSM is unreachable" in errors(caplog)[0]
    pointer.failing = False
    clock.now += REFRESH_SECONDS
    assert models.current().version == GOOD.version and models.take_load_failures() == 0


def test_a_cold_store_that_cannot_read_the_pointer_raises(
    tmp_path: Path, artifacts: dict[str, bytes]
) -> None:
    pointer = Pointer(GOOD)
    pointer.failing = True
    models = new_store(tmp_path, pointer, FakeS3(artifacts), Clock())
    with pytest.raises(ModelUnavailableError, match="cannot be read: SSM is unreachable"):
        models.current()
    assert models.take_load_failures() == 1


def test_an_artifact_replaced_after_promotion_is_refused_and_the_checked_one_served(
    tmp_path: Path, tiny_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given good-1 promoted with its model.json's digest, and good-2 promoted likewise
    checked = artifact(tiny_model_dir, NEXT.version)
    digest = pointer_digest(checked)
    artifacts = {GOOD.uri: artifact(tiny_model_dir, GOOD.version), NEXT.uri: checked}
    good = ModelPointer(GOOD.uri, GOOD.version)
    pointer, s3, clock = Pointer(good), FakeS3(artifacts), Clock()
    models = new_store(tmp_path, pointer, s3, clock)
    assert models.current().version == GOOD.version
    # When good-2's artifact is replaced behind the pointer by another model that loads
    # (here: other calibration; every file's digest still matches its own model.json)
    metadata = json.loads((tiny_model_dir / "model.json").read_text())
    metadata.update(version=NEXT.version, calibration={"method": "temperature", "temperature": 9})
    artifacts[NEXT.uri] = artifact(
        tiny_model_dir, NEXT.version, **{"model.json": json.dumps(metadata).encode()}
    )
    pointer.value = ModelPointer(NEXT.uri, NEXT.version, previous=good, digest=digest)
    clock.now = REFRESH_SECONDS
    # Then the warm store keeps serving good-1 and says why, once
    assert models.current().version == GOOD.version
    assert len(errors(caplog)) == 1
    assert "is not the one promotion checked" in errors(caplog)[0]
    # And a cold store falls back to the previous version, never the replaced one
    cold = new_store(tmp_path / "cold", Pointer(pointer.value), FakeS3(artifacts), Clock())
    assert cold.current().version == GOOD.version
    # And the artifact promotion checked is served when it is back, by a fresh store and by
    # the warm one (which had remembered good-2 as bad for good, and served good-1)
    replaced = artifacts[NEXT.uri]
    artifacts[NEXT.uri] = checked
    fresh = new_store(tmp_path / "fresh", Pointer(pointer.value), FakeS3(artifacts), Clock())
    assert fresh.current().version == NEXT.version
    clock.now = 2 * REFRESH_SECONDS
    assert models.current().version == NEXT.version
    # And when the replacement is promoted in its turn (the pointer pins its digest), the warm
    # store loads it: the same version with other bytes is another model (it kept the old)
    artifacts[NEXT.uri] = replaced
    pointer.value = ModelPointer(NEXT.uri, NEXT.version, digest=pointer_digest(replaced))
    clock.now = 3 * REFRESH_SECONDS
    assert models.current().metadata.calibration.temperature == 9


def test_a_reclassify_for_a_newer_version_reads_the_pointer_at_once(
    tmp_path: Path, artifacts: dict[str, bytes]
) -> None:
    # Given a warm store on good-1 that read the pointer a moment ago
    pointer, clock, reads, models = warm_counted_store(tmp_path, artifacts)
    # When good-2 is promoted and a reclassify sent for it arrives within the refresh
    pointer.value = NEXT
    clock.now = 2.0
    # Then an ordinary image keeps the cached model, and the reclassify gets good-2 (it got
    # good-1 for up to a minute, and `reclassify --wait` waited out its timeout)
    assert models.current().version == GOOD.version
    assert models.current(NEXT.version).version == NEXT.version
    assert models.current().version == NEXT.version
    assert reads == [0.0, 2.0]


def test_a_reclassify_for_a_version_the_pointer_does_not_name_rereads_once_a_second(
    tmp_path: Path, artifacts: dict[str, bytes]
) -> None:
    # Given messages sent for good-2, where the pointer still names good-1 (rolled back)
    pointer, clock, reads, models = warm_counted_store(tmp_path, artifacts)
    for step in range(1, 11):
        clock.now = step * 0.25
        assert models.current(NEXT.version).version == GOOD.version
    # Then the pointer is read at most once a second, not once per message
    assert reads == [0.0, 1.0, 2.0]
