"""The function's AWS requests, counted on moto with botocore's event hooks.

Each test names the exact list of calls one image costs, so a call that comes back fails it;
and the batch tests check the concurrency inside a batch: bounded, per-key ordered, crashes
raised, and faster under AWS-like latency.
"""

from __future__ import annotations

import io
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from PIL import Image

from classifier import handler
from classifier.contracts import DEFAULT_RECORD_CONCURRENCY, LABEL_REGISTRY_PK
from infra.local.faults import FaultInjector, FaultPlan, WorkerCrash
from tests.fixtures.events import fake_context, s3_body, s3_record, sqs_event

BENCH = Path(__file__).resolve().parents[3] / "bench"  # not a package: see tests/unit/bench
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from costmodel.latency import aws_latency_plan  # noqa: E402

GET_ITEM, PUT_ITEM = "dynamodb.GetItem", "dynamodb.PutItem"
GET_OBJECT, GET_TAGS, PUT_TAGS = "s3.GetObject", "s3.GetObjectTagging", "s3.PutObjectTagging"


def png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), colour).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class Calls:
    """The function's calls in the order they were made: (operation, object key, thread)."""

    log: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, params: dict[str, Any], event_name: str, **_: Any) -> None:
        service, operation = event_name.split(".")[1:3]
        key = params.get("Key")
        if service == "dynamodb":
            pk: Any = (params.get("Key") or params.get("Item") or {}).get("pk", "")
            pk = pk.get("S", "") if isinstance(pk, dict) else pk  # serialized or not yet
            key = str(pk).split("/", 1)[-1]
        with self.lock:
            self.log.append((f"{service}.{operation}", str(key), threading.current_thread().name))

    def take(self) -> list[str]:
        """The calls since the last take, aside from those made once per runtime, not per
        image: SSM's model pointer, and registering an index value (see `registrations`)."""
        with self.lock:
            names = [
                name
                for name, key, _ in self.log
                if name != "ssm.GetParameter" and key != LABEL_REGISTRY_PK
            ]
            self.log = []
        return names

    def registrations(self) -> int:
        """Label-registry writes since the last take."""
        with self.lock:
            return sum(
                key == LABEL_REGISTRY_PK and name == "dynamodb.UpdateItem"
                for name, key, _ in self.log
            )

    def of(self, key: str) -> list[str]:
        return [name for name, k, _ in self.log if k == key]


@pytest.fixture
def calls(aws: SimpleNamespace) -> Iterator[Calls]:
    """Every call of the function's clients (built after this, on boto3's default session)."""
    recorder = Calls()
    events = boto3._get_default_session().events
    events.register("before-parameter-build", recorder, unique_id="test-requests")
    try:
        yield recorder
    finally:
        events.unregister("before-parameter-build", unique_id="test-requests")


def upload(aws: SimpleNamespace, key: str, body: bytes, **extra: Any) -> str:
    meta = aws.s3.put_object(Bucket="images", Key=key, Body=body, **extra)
    return s3_body(s3_record("images", key, etag=meta["ETag"].strip('"'), size=len(body)))


def invoke(*bodies: str, receive_count: int = 1) -> dict[str, Any]:
    """The bodies as one batch: first deliveries, or retries (`receive_count` above 1)."""
    return handler.lambda_handler(sqs_event(*bodies, receive_count=receive_count), fake_context())


@contextmanager
def faults(plan: FaultPlan) -> Iterator[FaultInjector]:
    """The plan on the function's next clients (a client copies the session's hooks when it
    is built, so the runtime is rebuilt)."""
    events = boto3._get_default_session().events
    _uninstall(events)  # botocore keeps the first handler of a unique id: an earlier plan's
    injector = FaultInjector(plan)
    injector.install(events)
    handler.reset_runtime()
    try:
        yield injector
    finally:
        injector.lift()
        _uninstall(events)


def _uninstall(events: Any) -> None:
    for event, unique_id in INJECTOR_HOOKS:
        events.unregister(event, unique_id=unique_id)


INJECTOR_HOOKS = (
    ("before-send", "imgclf-faults-send"),
    ("before-parameter-build", "imgclf-faults-key"),
    ("needs-retry", "imgclf-faults-retry"),
    ("after-call", "imgclf-faults-after"),
)


def warm(aws: SimpleNamespace, calls: Calls) -> None:
    """Load the model (the pointer and the artifact) so it is not counted against an image."""
    invoke(upload(aws, "warm.png", png((1, 2, 3))))
    calls.take()


def test_a_new_image_with_tags_on_and_no_user_tags_costs_four_calls(
    aws: SimpleNamespace, calls: Calls
) -> None:
    warm(aws, calls)
    # Given an object with no tags: the GET says so (no x-amz-tagging-count), so its tags
    # are not read; on its first delivery the item is not read first: it is written (the
    # condition decides), then the tags, then the item is read again
    invoke(upload(aws, "a.png", png((220, 30, 30))))
    assert calls.take() == [GET_OBJECT, PUT_ITEM, PUT_TAGS, GET_ITEM]


def test_a_retried_new_image_reads_its_item_first(aws: SimpleNamespace, calls: Calls) -> None:
    # A retry follows a fault and may find its work half done: it reads the item first
    warm(aws, calls)
    invoke(upload(aws, "t.png", png((220, 30, 30))), receive_count=2)
    assert calls.take() == [GET_ITEM, GET_OBJECT, PUT_ITEM, PUT_TAGS, GET_ITEM]


def test_a_runtime_registers_each_index_value_once_before_its_first_item(
    aws: SimpleNamespace, calls: Calls
) -> None:
    # Given a cold runtime, two red images, then a reject
    invoke(upload(aws, "r1.png", png((220, 30, 30))))
    first = [(name, key) for name, key, _ in calls.log if name.startswith("dynamodb")]
    assert calls.registrations() == 1  # "red", written before r1's item
    registered = first.index(("dynamodb.UpdateItem", LABEL_REGISTRY_PK))
    assert registered < first.index((PUT_ITEM, "r1.png"))
    calls.take()
    invoke(upload(aws, "r2.png", png((220, 30, 30))))
    assert calls.registrations() == 0  # red is registered already in this runtime
    calls.take()
    invoke(upload(aws, "bad.png", b"not an image"))
    assert calls.registrations() == 1  # the rejects' value
    calls.take()
    # Then the registry lists both values
    registry = aws.table.get_item(Key={"pk": LABEL_REGISTRY_PK})["Item"]
    assert registry["values"] == {"red", "!rejected"}


def test_a_cold_runtime_writes_no_value_the_registry_already_lists(
    aws: SimpleNamespace, calls: Calls
) -> None:
    # Given a registry that lists "red" already (another runtime wrote it)
    aws.table.put_item(Item={"pk": LABEL_REGISTRY_PK, "values": {"red", "blue"}})
    # When a cold runtime classifies a red image
    invoke(upload(aws, "r3.png", png((220, 30, 30))))
    # Then it reads the registry once and writes nothing to it
    assert calls.registrations() == 0
    assert calls.of(LABEL_REGISTRY_PK) == ["dynamodb.GetItem"]


def test_a_new_image_with_user_tags_reads_them_to_keep_them(
    aws: SimpleNamespace, calls: Calls
) -> None:
    warm(aws, calls)
    invoke(upload(aws, "u.png", png((220, 30, 30)), Tagging="owner=ana"))
    assert calls.take() == [GET_OBJECT, GET_TAGS, PUT_ITEM, PUT_TAGS, GET_ITEM]
    tags = aws.s3.get_object_tagging(Bucket="images", Key="u.png")["TagSet"]
    assert {"Key": "owner", "Value": "ana"} in tags and len(tags) == 4


def test_a_redelivery_costs_one_read_and_a_tag_check(aws: SimpleNamespace, calls: Calls) -> None:
    warm(aws, calls)
    body = upload(aws, "d.png", png((30, 200, 40)))
    invoke(body)
    calls.take()
    invoke(body, receive_count=2)
    assert calls.take() == [GET_ITEM, GET_TAGS]


def test_a_duplicate_first_delivery_is_refused_by_the_write_and_checks_the_tags(
    aws: SimpleNamespace, calls: Calls
) -> None:
    # S3's rare duplicate notification is a message of its own, delivered for the first time:
    # it pays the GET (which says the object has tags now, so they are read) and the
    # inference; the write is refused, the item read back is this event's, and the tags
    # are checked as a duplicate's
    warm(aws, calls)
    body = upload(aws, "n.png", png((30, 200, 40)))
    invoke(body)
    item = aws.table.get_item(Key={"pk": "images/n.png"})["Item"]
    calls.take()
    invoke(body)
    assert calls.take() == [GET_OBJECT, GET_TAGS, PUT_ITEM, GET_ITEM, GET_TAGS]
    assert aws.table.get_item(Key={"pk": "images/n.png"})["Item"] == item


@pytest.mark.parametrize("tags", ["none", ""])
def test_with_tags_off_an_image_costs_two_calls_and_a_redelivery_one(
    aws: SimpleNamespace, calls: Calls, monkeypatch: pytest.MonkeyPatch, tags: str
) -> None:
    monkeypatch.setenv("TAGS", tags)
    handler.reset_runtime()
    warm(aws, calls)
    body = upload(aws, "off.png", png((30, 40, 220)), Tagging="owner=ana")
    invoke(body)
    assert calls.take() == [GET_OBJECT, PUT_ITEM]
    invoke(body, receive_count=2)
    assert calls.take() == [GET_ITEM]
    tags_now = aws.s3.get_object_tagging(Bucket="images", Key="off.png")["TagSet"]
    assert tags_now == [{"Key": "owner", "Value": "ana"}]


def test_a_rejected_image_reads_the_tags_after_its_write(
    aws: SimpleNamespace, calls: Calls
) -> None:
    # A rejection must remove the imgclf tags of any earlier result, which may land between
    # its GET and its item write: so it reads the tags after the write, whatever the GET said
    warm(aws, calls)
    invoke(upload(aws, "bad.png", b"not an image"))
    assert calls.take() == [GET_OBJECT, PUT_ITEM, GET_TAGS]


def test_only_the_tags_named_by_the_setting_are_written(
    aws: SimpleNamespace, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAGS", "label")
    handler.reset_runtime()
    invoke(upload(aws, "l.png", png((220, 30, 30))))
    tags = aws.s3.get_object_tagging(Bucket="images", Key="l.png")["TagSet"]
    assert tags == [{"Key": "imgclf:label", "Value": "red"}]


# --- concurrency inside a batch ----------------------------------------------------------
def test_records_of_one_key_run_in_batch_order_while_other_keys_run_beside_them(
    aws: SimpleNamespace, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given AWS-like latency on every call, and a batch where one image arrives twice among
    # seven others (S3's duplicate notification in the same batch, both first deliveries)
    monkeypatch.setenv("RECORD_CONCURRENCY", "8")
    with faults(aws_latency_plan(seed=1)):
        warm(aws, calls)
        same = upload(aws, "same.png", png((220, 30, 30)))
        others = [upload(aws, f"o{i}.png", png((30, 40, 20 * i))) for i in range(7)]
        calls.take()
        response = invoke(same, *others[:3], same, *others[3:])
    # Then nothing failed, and the key's two records ran one after the other, in batch
    # order: the first classified it, the second found the duplicate when its write was refused
    assert response == {"batchItemFailures": []}
    assert calls.of("same.png") == [GET_OBJECT, PUT_ITEM, PUT_TAGS, GET_ITEM] + [
        GET_OBJECT,
        GET_TAGS,
        PUT_ITEM,
        GET_ITEM,
        GET_TAGS,
    ]
    # And the records ran on several threads at once
    threads = {thread for _, _, thread in calls.log}
    assert len(threads) > 1 and all(name.startswith("imgclf-record") for name in threads)


def test_a_worker_crash_in_a_record_thread_leaves_the_handler(
    aws: SimpleNamespace, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a worker that dies after its first item write, with records on their own threads
    monkeypatch.setenv("RECORD_CONCURRENCY", "4")
    plan = FaultPlan.from_dict(
        {"calls": [{"service": "dynamodb", "operation": "PutItem", "crash_after": 1}]}
    )
    bodies = [upload(aws, f"c{i}.png", png((20 * i, 30, 40))) for i in range(4)]
    # When the batch is handled, the crash is not a failed record: it leaves the handler
    # (the poller then acknowledges nothing), as it would kill a Lambda process
    with faults(plan), pytest.raises(WorkerCrash):
        invoke(*bodies)
    writes = [(name, thread) for name, _, thread in calls.log if name == PUT_ITEM]
    assert writes and all(thread.startswith("imgclf-record") for _, thread in writes)


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_in_a_record_thread_leaves_the_handler(
    aws: SimpleNamespace, calls: Calls, monkeypatch: pytest.MonkeyPatch, interrupt: type
) -> None:
    monkeypatch.setenv("RECORD_CONCURRENCY", "4")
    bodies = [upload(aws, f"k{i}.png", png((20 * i, 30, 40))) for i in range(3)]

    def die(**_: Any) -> None:
        if threading.current_thread().name.startswith("imgclf-record"):
            raise interrupt()

    events = boto3._get_default_session().events
    events.register("before-parameter-build.s3.GetObject", die, unique_id="test-die")
    handler.reset_runtime()  # clients built after the hook
    try:
        with pytest.raises(interrupt):
            invoke(*bodies)
    finally:
        events.unregister("before-parameter-build.s3.GetObject", unique_id="test-die")


def handler_ms(aws: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, concurrency: int) -> float:
    """Median wall time of three warm invocations of 10 new images each, every call delayed
    by bench/costmodel's AWS-like latency (S3 GET median 25 ms, PutObjectTagging 30 ms, ...)."""
    monkeypatch.setenv("RECORD_CONCURRENCY", str(concurrency))
    times = []
    with faults(aws_latency_plan(seed=concurrency)):
        invoke(upload(aws, f"warm-{concurrency}.png", png((1, 2, 3))))
        for run in range(3):
            bodies = [
                upload(aws, f"w{concurrency}-{run}-{i}.png", png((25 * i, 30 * run, 40)))
                for i in range(10)
            ]
            started = time.perf_counter()
            assert invoke(*bodies) == {"batchItemFailures": []}
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def test_concurrent_records_take_a_fraction_of_the_sequential_time(
    aws: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given batches of 10 new images and AWS-like latency on every call
    sequential = handler_ms(aws, monkeypatch, 1)
    concurrent = handler_ms(aws, monkeypatch, DEFAULT_RECORD_CONCURRENCY)
    with capsys.disabled():
        print(
            f"\n10-record batch, handler wall time (median of 3): sequential {sequential:.0f} ms,"
            f" RECORD_CONCURRENCY={DEFAULT_RECORD_CONCURRENCY} {concurrent:.0f} ms"
        )
    # Then the default concurrency takes well under half the time of one at a time
    assert concurrent < sequential / 2
