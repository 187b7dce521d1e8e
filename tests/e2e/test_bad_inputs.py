"""The corpus of odd and bad inputs, end to end: each kind ends as the corpus says, none in the DLQ.

One environment for the module. Every kind is uploaded while the poller is held, so that the
kinds acted on between the event and the GET (deleted, replaced) are acted on before any
record is read; then the poller starts and everything is waited for once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from classifier.contracts import Status
from imgclf.dlq import list_dead_letters
from tests.fixtures.corpus import KINDS, Kind
from tests.fixtures.corpus_files import CORPUS_MAX_IMAGE_BYTES

from .conftest import RunningEnvironment

# Pillow warns (and carries on) on damaged metadata; the Lambda runs without pytest's "error"
# filter, so here too a warning must not become an exception in the handler's threads.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL(\\..*)?")

PREFIX = "corpus"
WAIT_SECONDS = 45
# Short, so that a record the function wrongly retries reaches the DLQ (and fails its kind's
# test with "dead-lettered") within the wait rather than after it.
VISIBILITY_TIMEOUT_SECONDS = 3


def key_of(kind: Kind) -> str:
    return f"{PREFIX}/{kind.name}/{kind.filename}"


@pytest.fixture(scope="module")
def env(
    environment_factory: Callable[..., RunningEnvironment], tiny_artifacts: dict[str, Path]
) -> Iterator[RunningEnvironment]:
    running = environment_factory(
        workers=2,
        poll=False,
        visibility_timeout_seconds=VISIBILITY_TIMEOUT_SECONDS,
        function_settings={"MAX_IMAGE_BYTES": str(CORPUS_MAX_IMAGE_BYTES)},
    )
    try:  # stopped even when the promotion fails, or the next test could not start one
        running.promote(tiny_artifacts["tiny-v1"], "tiny-v1")
        yield running
    finally:
        running.environment.stop()


@dataclass
class CorpusRun:
    items: dict[str, dict[str, Any]]  # key -> results-table item
    dead_lettered: set[str]
    current_etags: dict[str, str]  # key -> the object's ETag after the run (objects that exist)
    seconds: float


@pytest.fixture(scope="module")
def run(env: RunningEnvironment) -> CorpusRun:
    started = time.monotonic()
    s3 = env.deployment.client("s3")
    bucket = env.deployment.images_bucket

    def put(kind: Kind) -> None:
        s3.put_object(Bucket=bucket, Key=key_of(kind), Body=kind.make(), **kind.put_object_args())

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, KINDS))
    # Between the event and the GET: the poller has not read a single record yet.
    for kind in KINDS:
        if kind.before_get == "delete":
            s3.delete_object(Bucket=bucket, Key=key_of(kind))
        elif kind.before_get == "replace":
            assert kind.replacement is not None
            s3.put_object(Bucket=bucket, Key=key_of(kind), Body=kind.replacement())
    assert env.environment.poller is not None
    env.environment.poller.start()

    with_items = [key_of(kind) for kind in KINDS if kind.expected != "gone"]
    accounting = env.wait(with_items, timeout=WAIT_SECONDS)
    # Everything read, retried or dead-lettered: the queue is empty, nothing in flight.
    deadline = time.monotonic() + WAIT_SECONDS
    while env.queue_depth() and time.monotonic() < deadline:
        time.sleep(0.2)
    items = dict(accounting.items)
    gone = [key_of(kind) for kind in KINDS if kind.expected == "gone"]
    items.update(env.wait(gone, timeout=0).items)  # any item for them is a failure
    dead = {key for letter in list_dead_letters(env.deployment) for key in letter.keys}
    etags = {}
    for kind in KINDS:
        if kind.expected == "gone":
            continue
        args: dict[str, Any] = {"Bucket": bucket, "Key": key_of(kind)}
        if kind.sse_customer_key:
            args.update(SSECustomerAlgorithm="AES256", SSECustomerKey=kind.sse_customer_key)
        etags[key_of(kind)] = s3.head_object(**args)["ETag"].strip('"')
    return CorpusRun(items, dead, etags, time.monotonic() - started)


def test_the_corpus_has_at_least_30_kinds() -> None:
    names = [kind.name for kind in KINDS]
    assert len(names) == len(set(names)) and len(names) >= 30
    assert {kind.expected for kind in KINDS} == {"classified", "rejected", "gone"}


@pytest.mark.parametrize("kind", KINDS, ids=[kind.name for kind in KINDS])
def test_kind_ends_as_expected(kind: Kind, run: CorpusRun) -> None:
    key = key_of(kind)
    item = run.items.get(key)
    assert key not in run.dead_lettered, f"{kind.name} ({kind.why}) went to the DLQ"
    if kind.expected == "gone":
        assert item is None, f"{kind.name}: expected no item, got {item}"
        return
    assert item is not None, f"{kind.name} ({kind.why}): no item within {WAIT_SECONDS} s"
    status, reason = item["status"], item.get("reason", "")
    if kind.expected == "rejected":
        assert status == Status.REJECTED, f"{kind.name}: {status} {item.get('label')}"
        assert kind.reason_contains in reason, f"{kind.name}: reason {reason!r}"
        assert "\n" not in reason
        return
    assert status == Status.CLASSIFIED, f"{kind.name}: {status} {reason!r}"
    assert item["etag"] == run.current_etags[key]  # the object as it is now
    if kind.label is not None:
        assert item["label"] == kind.label, f"{kind.name}: {item['top_k']}"
    if kind.dimensions is not None:
        assert (int(item["width"]), int(item["height"])) == kind.dimensions


def test_nothing_reached_the_dead_letter_queue(env: RunningEnvironment, run: CorpusRun) -> None:
    assert run.dead_lettered == set()
    assert env.queue_depth(dead_letter=True) == 0


def test_an_archived_object_is_classified_once_restored(
    env: RunningEnvironment, run: CorpusRun
) -> None:
    # Given an archived object, rejected because nothing could read it
    archived = next(kind for kind in KINDS if kind.storage_class == "GLACIER")
    key = key_of(archived)
    assert run.items[key]["status"] == Status.REJECTED
    # When it is restored (S3 sends ObjectRestore:Completed)
    s3 = env.deployment.client("s3")
    s3.restore_object(Bucket=env.deployment.images_bucket, Key=key, RestoreRequest={"Days": 1})
    s3.head_object(Bucket=env.deployment.images_bucket, Key=key)
    # Then the function reads it and records what it shows
    accounting = env.wait(
        [key], timeout=WAIT_SECONDS, accept=lambda item: item["status"] == Status.CLASSIFIED
    )
    assert accounting.items[key]["label"] == "red"  # the corpus archives a red JPEG
