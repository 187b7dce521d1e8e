"""The handler end to end on moto: S3, DynamoDB and SSM, with the real tiny model."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import random
import threading
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import boto3
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from PIL import Image

from classifier import handler
from classifier.adapters import S3Objects
from classifier.artifact import UnknownRule
from classifier.artifact_files import pack_artifact, read_metadata, write_artifact_dir
from classifier.classify import TagsRejectedError
from classifier.contracts import (
    ARTIFACT_MODEL_FILE,
    EXPIRES_ATTRIBUTE,
    LOCAL_ENV,
    REMOVED_RETENTION_SECONDS,
    RESULTS_INDEXES,
    ModelPointer,
    Status,
    artifact_key,
    is_removed,
    sharded_value,
)
from imgclf import commands
from imgclf.deployment import Deployment
from imgclf.main import main as cli_main
from imgclf.result_queries import get_result, query_results
from infra.local.faults import FaultInjector, FaultPlan
from infra.resources import StackOutputs, metrics_service
from tests.fixtures.events import (
    FakeLambdaContext,
    fake_context,
    s3_body,
    s3_record,
    s3_test_event_body,
    sqs_event,
)

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


def png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), colour).save(buffer, "PNG")
    return buffer.getvalue()


def put(aws: SimpleNamespace, key: str, body: bytes, **extra: Any) -> dict[str, Any]:
    response = aws.s3.put_object(Bucket="images", Key=key, Body=body, **extra)
    return {"etag": response["ETag"].strip('"'), "size": len(body)}


def invoke(*bodies: str) -> dict[str, Any]:
    return handler.lambda_handler(sqs_event(*bodies), fake_context())


def item(aws: SimpleNamespace, key: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = aws.table.get_item(Key={"pk": f"images/{key}"}).get("Item")
    return found


def deployment() -> Deployment:
    """The moto account as the CLI finds a deployed stack: by its outputs."""
    return Deployment(
        env="test",
        outputs={
            StackOutputs.IMAGES_BUCKET: "images",
            StackOutputs.RESULTS_TABLE: "results",
            StackOutputs.INDEX_SHARDS: os.environ["INDEX_SHARDS"],
        },
        region="us-east-1",
    )


def tags(aws: SimpleNamespace, key: str) -> dict[str, str]:
    tag_set = aws.s3.get_object_tagging(Bucket="images", Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tag_set}


KEYS = [
    "plain.png",
    "with space.png",
    "a+b=c.png",
    "dossier/été/猫 cat.png",
    "deep/ly/nested/x.png",
]


@pytest.mark.parametrize("aws_shaped", [True, False])
def test_keys_with_spaces_plus_unicode_and_slashes_are_classified(
    aws: SimpleNamespace, aws_shaped: bool
) -> None:
    bodies = []
    for key, colour in zip(KEYS, ["red", "green", "blue", "red", "green"], strict=True):
        meta = put(aws, key, png(COLOURS[colour]))
        bodies.append(s3_body(s3_record("images", key, aws_shaped=aws_shaped, **meta)))
    assert invoke(*bodies) == {"batchItemFailures": []}
    for key, colour in zip(KEYS, ["red", "green", "blue", "red", "green"], strict=True):
        recorded = item(aws, key)
        assert recorded is not None and recorded["key"] == key
        assert recorded["status"] == "CLASSIFIED" and recorded["label"] == colour
        assert tags(aws, key)["imgclf:label"] == colour


def test_events_that_moto_itself_sends_are_handled(aws: SimpleNamespace) -> None:
    sqs = __import__("boto3").client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws.s3.put_bucket_notification_configuration(
        Bucket="images",
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}
            ]
        },
    )
    put(aws, "moto sent+me.png", png(COLOURS["blue"]))
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    bodies = [m["Body"] for m in messages]
    assert any("ObjectCreated" in body for body in bodies)
    assert invoke(*bodies) == {"batchItemFailures": []}
    assert item(aws, "moto sent+me.png")["label"] == "blue"  # type: ignore[index]


def test_duplicate_delivery_produces_no_extra_write(aws: SimpleNamespace) -> None:
    body = s3_body(s3_record("images", "d.png", **put(aws, "d.png", png(COLOURS["red"]))))
    invoke(body)
    first = item(aws, "d.png")
    aws.s3.put_object_tagging(
        Bucket="images",
        Key="d.png",
        Tagging={
            "TagSet": [
                *[{"Key": k, "Value": v} for k, v in tags(aws, "d.png").items()],
                {"Key": "late", "Value": "1"},
            ]
        },
    )
    assert invoke(body, body) == {"batchItemFailures": []}
    assert item(aws, "d.png") == first  # same classified_at: nothing was rewritten
    assert tags(aws, "d.png")["late"] == "1"


def test_a_first_delivery_reads_its_item_once_and_a_retry_twice(aws: SimpleNamespace) -> None:
    # Given the handler's reads of the object's item counted (the clients it builds come
    # from this session; the label registry's read is not the item's)
    assert boto3.DEFAULT_SESSION is not None
    events = boto3.DEFAULT_SESSION.events
    reads: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        if "images/f.png" in str(params.get("Key")):
            reads.append("GetItem")

    events.register("before-parameter-build.dynamodb.GetItem", count, unique_id="count-reads")
    try:
        first = s3_body(s3_record("images", "f.png", **put(aws, "f.png", png(COLOURS["red"]))))
        # When an upload's first delivery is handled (tags on), then the item is written
        # without a read first: the only read is the check after tagging
        assert invoke(first) == {"batchItemFailures": []}
        assert len(reads) == 1 and tags(aws, "f.png")["imgclf:label"] == "red"
        recorded = item(aws, "f.png")
        # And a retry of it (receive count 2) reads first and finds it done: one read
        reads.clear()
        retried = handler.lambda_handler(sqs_event(first, receive_count=2), fake_context())
        assert retried == {"batchItemFailures": []}
        assert len(reads) == 1 and item(aws, "f.png") == recorded
    finally:
        events.unregister("before-parameter-build.dynamodb.GetItem", unique_id="count-reads")


def test_out_of_order_events_keep_the_newest_result(aws: SimpleNamespace) -> None:
    old = put(aws, "o.png", png(COLOURS["red"]))
    new = put(aws, "o.png", png(COLOURS["blue"]))
    newer_event = s3_record("images", "o.png", sequencer="0055AED6DCD90281F0", **new)
    older_event = s3_record("images", "o.png", sequencer="0055AED6DCD90281E5", **old)
    invoke(s3_body(newer_event))
    invoke(s3_body(older_event))
    recorded = item(aws, "o.png")
    assert recorded is not None and recorded["label"] == "blue" and recorded["etag"] == new["etag"]


def test_one_failing_record_does_not_fail_the_batch(
    aws: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given S3 answering InternalError to every GET under flaky/ (through botocore's retries,
    # here a single attempt), and a bucket that no longer exists
    monkeypatch.setenv("MAX_ATTEMPTS", "1")
    handler.reset_runtime()
    injector = FaultInjector(FaultPlan.from_dict({"calls": [
        {"service": "s3", "operation": "GetObject", "key_prefix": "flaky/", "internal_error": 1},
    ]}))  # fmt: skip
    injector.install(boto3._get_default_session().events)
    good = s3_body(s3_record("images", "g.png", **put(aws, "g.png", png(COLOURS["green"]))))
    flaky = s3_body(s3_record("images", "flaky/f.png", **put(aws, "flaky/f.png", png((0, 0, 0)))))
    missing_bucket = s3_body(s3_record("no-such-bucket", "x.png"))
    event = sqs_event(good, flaky, missing_bucket, s3_test_event_body(), "garbage")
    # When the batch is handled
    response = handler.lambda_handler(event, fake_context())
    # Then only the transient fault and the malformed message are failed; the rest acknowledged
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    ids = [r["messageId"] for r in event["Records"]]
    assert failed == {ids[1], ids[4]}
    assert injector.counts()["internal_error"] >= 1
    assert item(aws, "g.png")["label"] == "green"  # type: ignore[index]
    assert item(aws, "flaky/f.png") is None


def test_user_tags_are_merged_not_replaced(aws: SimpleNamespace) -> None:
    meta = put(aws, "t.png", png(COLOURS["red"]), Tagging="owner=ana&project=zoo")
    invoke(s3_body(s3_record("images", "t.png", **meta)))
    assert tags(aws, "t.png") == {
        "owner": "ana",
        "project": "zoo",
        "imgclf:label": "red",
        "imgclf:confidence": tags(aws, "t.png")["imgclf:confidence"],
        "imgclf:model": "tiny-v1",
    }


def test_no_room_for_tags_is_recorded_on_the_item(aws: SimpleNamespace) -> None:
    user = "&".join(f"k{i}=v{i}" for i in range(9))
    meta = put(aws, "full.png", png(COLOURS["red"]), Tagging=user)
    invoke(s3_body(s3_record("images", "full.png", **meta)))
    recorded = item(aws, "full.png")
    assert recorded is not None and recorded["tags"].startswith(
        "skipped: the object has 9 user tags"
    )
    assert len(tags(aws, "full.png")) == 9 and "imgclf:label" not in tags(aws, "full.png")


def test_bad_inputs_are_rejected_with_reasons(aws: SimpleNamespace) -> None:
    bodies = [
        s3_body(s3_record("images", k, **put(aws, k, data)))
        for k, data in [
            ("text.jpg", b"plain text, not a jpeg"),
            ("empty.png", b""),
            ("cut.png", png(COLOURS["red"])[:60]),
        ]
    ]
    assert invoke(*bodies) == {"batchItemFailures": []}
    reasons = {k: item(aws, k)["reason"] for k in ("text.jpg", "empty.png", "cut.png")}  # type: ignore[index]
    assert reasons["text.jpg"].startswith("not a recognised image")
    assert reasons["empty.png"] == "empty file (0 bytes)"
    assert "truncated" in reasons["cut.png"] or "unreadable" in reasons["cut.png"]
    # And --status rejected finds the three over the rejects' shards of by_label
    rejected = query_results(deployment(), status=Status.REJECTED)
    assert {i["key"] for i in rejected} == {"text.jpg", "empty.png", "cut.png"}


def removal(key: str, event_time: str) -> str:
    return s3_body(
        s3_record("images", key, event_name="ObjectRemoved:Delete", event_time=event_time)
    )


def test_removal_leaves_no_result(
    aws: SimpleNamespace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = put(aws, "r.png", png(COLOURS["red"]))
    invoke(s3_body(s3_record("images", "r.png", **meta)))
    aws.s3.delete_object(Bucket="images", Key="r.png")
    invoke(removal("r.png", "2026-11-22T10:00:01.000Z"))
    # The item is a marker of the removal, which expires, and is in no index
    marker = item(aws, "r.png")
    assert marker is not None and is_removed(marker)
    assert marker[EXPIRES_ATTRIBUTE] > time.time() + REMOVED_RETENTION_SECONDS - 600
    assert not {index.partition_key for index in RESULTS_INDEXES.values()} & marker.keys()
    # And to the CLI the key has no result
    assert get_result(deployment(), "r.png") is None
    assert query_results(deployment(), label="red") == []
    monkeypatch.setattr(commands, "resolve", lambda env: deployment())
    capsys.readouterr()
    assert cli_main(["result", "r.png"]) == 1
    assert (
        capsys.readouterr().err.strip()
        == "imgclf: error: no result for 'r.png' in environment 'test'"
    )


def test_an_upload_that_read_its_object_before_a_delete_cannot_record_it(
    aws: SimpleNamespace,
) -> None:
    # Given an upload's event whose GET ran before the object's delete, and the delete's event
    # handled first (the object still answers here, as it did to that GET)
    meta = put(aws, "race.png", png(COLOURS["red"]))
    invoke(removal("race.png", "2026-11-22T10:00:01.000Z"))
    # When the upload's event is handled, on its first delivery (no read first) or a retry
    for receive_count in (1, 2):
        event = sqs_event(s3_body(s3_record("images", "race.png", **meta)))
        event["Records"][0]["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        assert handler.lambda_handler(event, fake_context()) == {"batchItemFailures": []}
        # Then its write is refused as older than the removal: the key still has no result
        assert get_result(deployment(), "race.png") is None
        assert is_removed(item(aws, "race.png"))
    # And a later upload of the key is recorded over the marker
    meta = put(aws, "race.png", png(COLOURS["blue"]))
    later = s3_record("images", "race.png", event_time="2026-11-22T10:00:02.000Z", **meta)
    invoke(s3_body(later))
    assert (get_result(deployment(), "race.png") or {}).get("label") == "blue"


def test_labels_are_queryable_newest_first(aws: SimpleNamespace) -> None:
    for key in ("l1.png", "l2.png"):
        invoke(s3_body(s3_record("images", key, **put(aws, key, png(COLOURS["green"])))))
    result = query_results(deployment(), label="green")
    assert [i["key"] for i in result] == ["l2.png", "l1.png"]


def test_no_model_promoted_is_transient_for_every_record(aws: SimpleNamespace) -> None:
    aws.ssm.delete_parameter(Name=aws.pointer)
    handler.reset_runtime()
    body = s3_body(s3_record("images", "n.png", **put(aws, "n.png", png(COLOURS["red"]))))
    response = invoke(body, body)
    assert len(response["batchItemFailures"]) == 2 and item(aws, "n.png") is None


def point_at_broken_model(aws: SimpleNamespace, tiny_model_dir: Path, tmp_path: Path) -> None:
    """Write the pointer straight to `broken-1` (random bytes as model.tflite, a model.json
    that passes its checks), keeping tiny-v1 as previous, as a bad promotion would."""
    metadata = dataclasses.replace(read_metadata(tiny_model_dir), version="broken-1", probe=None)
    noise = random.Random(22).randbytes(4096)
    directory = write_artifact_dir(tmp_path / "broken", noise, metadata)
    tarball = pack_artifact(directory, tmp_path / "broken.tar.gz")
    aws.s3.upload_file(str(tarball), "models", artifact_key("broken-1"))
    live = ModelPointer(f"s3://models/{artifact_key('tiny-v1')}", "tiny-v1")
    broken = ModelPointer(f"s3://models/{artifact_key('broken-1')}", "broken-1", previous=live)
    aws.ssm.put_parameter(Name=aws.pointer, Value=broken.to_json(), Type="String", Overwrite=True)


def test_a_pointer_to_a_model_that_cannot_load_leaves_images_to_the_last_good_one(
    aws: SimpleNamespace,
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a warm function on tiny-v1 that re-reads the pointer on every record
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "0.001")
    handler.reset_runtime()
    first = s3_body(s3_record("images", "w0.png", **put(aws, "w0.png", png(COLOURS["green"]))))
    assert invoke(first) == {"batchItemFailures": []}
    # When the pointer is written to a corrupt model and images keep arriving, warm and then
    # in a new execution environment (cold)
    point_at_broken_model(aws, tiny_model_dir, tmp_path)
    capsys.readouterr()
    for key, colour in (("warm.png", "red"), ("cold.png", "blue")):
        if key == "cold.png":
            handler.reset_runtime()
        body = s3_body(s3_record("images", key, **put(aws, key, png(COLOURS[colour]))))
        # Then no record fails: the warm function keeps tiny-v1, the cold one falls back to
        # the pointer's previous, and each item names the version that labelled it
        assert invoke(body) == {"batchItemFailures": []}
        recorded = item(aws, key)
        assert recorded is not None and recorded["status"] == "CLASSIFIED"
        assert (recorded["label"], recorded["model_version"]) == (colour, "tiny-v1")
        assert tags(aws, key)["imgclf:model"] == "tiny-v1"
        # And the invocation reports the failed load for the alarm
        out = capsys.readouterr().out.splitlines()
        emf = [json.loads(line) for line in out if '"_aws"' in line]
        assert emf and emf[-1]["ModelLoadFailed"] in (1.0, [1.0])


def test_metrics_are_emitted_as_embedded_metric_format(
    aws: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    good = s3_body(s3_record("images", "m.png", **put(aws, "m.png", png(COLOURS["red"]))))
    bad = s3_body(s3_record("images", "m.txt", **put(aws, "m.txt", b"text")))
    invoke(good, bad)
    documents = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    assert documents, "no EMF document was printed"
    emitted = documents[-1]
    names = {m["Name"] for m in emitted["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"ImagesClassified", "ImagesRejected", "ImageLatency", "ModelLoadTime"} <= names
    assert emitted["ImagesClassified"] in (1.0, [1.0]) and emitted["ImagesRejected"] in (1.0, [1.0])
    # The environment's own dimension (these tests run the local environment's settings)
    assert emitted["service"] == metrics_service(LOCAL_ENV) == "imgclf-local"


def promote_relabelled_tiny_model(
    aws: SimpleNamespace, tiny_model_dir: Path, tmp_path: Path, labels: tuple[str, ...]
) -> None:
    """Publish the tiny model under other labels as version relabelled-v1 and make it live."""
    metadata = dataclasses.replace(
        read_metadata(tiny_model_dir), version="relabelled-v1", labels=labels, probe=None
    )
    directory = write_artifact_dir(
        tmp_path / "relabelled", (tiny_model_dir / ARTIFACT_MODEL_FILE).read_bytes(), metadata
    )
    tarball = pack_artifact(directory, tmp_path / "relabelled.tar.gz")
    aws.s3.upload_file(str(tarball), "models", artifact_key("relabelled-v1"))
    uri = f"s3://models/{artifact_key('relabelled-v1')}"
    aws.ssm.put_parameter(
        Name=aws.pointer,
        Value=ModelPointer(uri, "relabelled-v1").to_json(),
        Type="String",
        Overwrite=True,
    )
    handler.reset_runtime()


def test_label_s3_cannot_store_is_classified_and_acknowledged_not_retried(
    aws: SimpleNamespace, tiny_model_dir: Path, tmp_path: Path
) -> None:
    # Given a live model (built before labels were validated) whose label S3 refuses as a tag
    promote_relabelled_tiny_model(aws, tiny_model_dir, tmp_path, ("bad?label", "green", "blue"))
    meta = put(aws, "odd.png", png(COLOURS["red"]), Tagging="owner=ana")
    # When an image of that class arrives
    response = invoke(s3_body(s3_record("images", "odd.png", **meta)))
    # Then the record is acknowledged, the result recorded with why tagging was skipped,
    # and the object keeps the user's tags untouched
    assert response == {"batchItemFailures": []}
    recorded = item(aws, "odd.png")
    assert recorded is not None and recorded["status"] == "CLASSIFIED"
    assert recorded["label"] == "bad?label" and recorded["model_version"] == "relabelled-v1"
    assert recorded["tags"].startswith(
        "skipped: imgclf:label 'bad?label' is not a valid S3 tag value: '?' (U+003F) is not allowed"
    )
    assert tags(aws, "odd.png") == {"owner": "ana"}


def test_s3_refusing_tags_raises_tags_rejected_not_a_retryable_error(aws: SimpleNamespace) -> None:
    # S3 (here moto) answers InvalidTag; the adapter turns it into the core's permanent error.
    put(aws, "v.png", png(COLOURS["red"]))
    with pytest.raises(TagsRejectedError) as raised:
        S3Objects(aws.s3).put_tags("images", "v.png", None, [{"Key": "k", "Value": "bad?value"}])
    assert raised.value.reason.startswith("InvalidTag: ")


def _results(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    """`imgclf results ARGS` against the moto account, found as a deployed stack's outputs."""
    found = deployment()
    monkeypatch.setattr(commands, "resolve", lambda env: found)
    capsys.readouterr()
    code = cli_main(["results", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_colours_are_recorded_and_found_by_colour_over_every_shard(
    aws: SimpleNamespace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given blue, navy and red images (navy is a shade of the blue family), then one more blue
    shards = int(os.environ["INDEX_SHARDS"])
    plan = [(f"blue-{i}.png", COLOURS["blue"]) for i in range(6)] + [
        ("navy.png", (0, 0, 128)),
        ("red.png", COLOURS["red"]),
    ]
    for key, colour in plan:
        invoke(s3_body(s3_record("images", key, **put(aws, key, png(colour)))))
    invoke(s3_body(s3_record("images", "last.png", **put(aws, "last.png", png(COLOURS["blue"])))))

    # Then each item records its colours, and is in by_label under its label's shards
    navy = item(aws, "navy.png")
    assert navy is not None
    assert [(c["name"], c["family"], c["fraction"]) for c in navy["colours"]] == [
        ("navy", "blue", Decimal("1.0"))
    ]
    assert navy["label_shard"] == sharded_value(navy["label"], "images/navy.png", shards)
    blue_keys = [key for key, _ in plan[:7]] + ["last.png"]
    used = {item(aws, key)["label_shard"] for key in blue_keys}  # type: ignore[index]
    assert len(used) > 1, "the blue items should spread over several partitions"
    # And tags stay the three of ours while TAGS names no colours
    assert "imgclf:colours" not in tags(aws, "navy.png")

    # When the CLI asks for blue
    code, out, err = _results(capsys, monkeypatch, "--colour", "blue", "--format", "json")
    # Then every blue-family item comes back from all shards, newest first, and no red one
    assert code == 0, err
    found = json.loads(out)
    assert sorted(i["key"] for i in found) == sorted(blue_keys)
    assert found[0]["key"] == "last.png"
    times = [i["classified_at"] for i in found]
    assert times == sorted(times, reverse=True)
    # And a palette name narrows to dominant colours of that name; --limit and --since apply
    code, out, _ = _results(capsys, monkeypatch, "--colour", "navy", "--format", "json")
    assert [i["key"] for i in json.loads(out)] == ["navy.png"]
    code, out, _ = _results(
        capsys, monkeypatch, "--color", "BLUE", "--limit", "2", "--format", "csv"
    )
    lines = out.splitlines()
    assert lines[0].split(",")[:6] == [
        *("key", "status", "label", "second_label", "confidence", "colours")
    ]
    assert len(lines) == 3 and lines[1].startswith("last.png,CLASSIFIED,blue,")
    code, out, _ = _results(
        capsys, monkeypatch, "--colour", "red", "--since", "1h", "--format", "json"
    )
    assert [i["key"] for i in json.loads(out)] == ["red.png"]
    code, out, _ = _results(
        capsys, monkeypatch, "--colour", "green", "--min-confidence", "0.1", "--format", "json"
    )
    assert json.loads(out) == []
    # And the table output shows the colours
    code, out, _ = _results(capsys, monkeypatch, "--colour", "navy")
    assert code == 0 and "navy" in out and "colours" in out


def test_an_unknown_colour_is_a_one_line_error_naming_the_valid_ones(
    aws: SimpleNamespace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = _results(capsys, monkeypatch, "--colour", "chartreuse-ish")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("imgclf: error: unknown colour 'chartreuse-ish' (use one of black, ")
    assert "sky blue" in err and "Traceback" not in err


def test_colour_tags_add_the_names_when_the_setting_asks(
    aws: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAGS", "label,confidence,model,colours")
    handler.reset_runtime()
    # Given an image with a transparent left half: composited on white, as the model sees it
    image = Image.new("RGBA", (64, 32), (255, 0, 0, 0))
    image.paste((0, 0, 128, 255), (32, 0, 64, 32))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    invoke(s3_body(s3_record("images", "t.png", **put(aws, "t.png", buffer.getvalue()))))
    recorded = item(aws, "t.png")
    assert recorded is not None
    assert {c["name"] for c in recorded["colours"][:2]} == {"white", "navy"}
    assert tags(aws, "t.png")["imgclf:colours"] == " ".join(
        c["name"].replace(" ", "-") for c in recorded["colours"]
    )


def test_an_image_outside_the_labels_is_unknown_and_found_by_label_unknown(
    aws: SimpleNamespace,
    tiny_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a live model whose rule says "unknown" below a calibrated top probability of 0.9
    metadata = dataclasses.replace(
        read_metadata(tiny_model_dir),
        version="unsure-v1",
        unknown=UnknownRule(min_confidence=0.9, details={"chosen_by": "this test"}),
        probe=None,  # written straight to the pointer: no promotion runs it
    )
    directory = write_artifact_dir(
        tmp_path / "unsure", (tiny_model_dir / ARTIFACT_MODEL_FILE).read_bytes(), metadata
    )
    aws.s3.upload_file(
        str(pack_artifact(directory, tmp_path / "unsure.tar.gz")),
        "models",
        artifact_key("unsure-v1"),
    )
    uri = f"s3://models/{artifact_key('unsure-v1')}"
    aws.ssm.put_parameter(
        Name=aws.pointer, Value=ModelPointer(uri, "unsure-v1").to_json(), Overwrite=True
    )
    handler.reset_runtime()
    # When a red image (one of its colours) and a grey one (none of them) arrive
    for key, colour in (("red.png", COLOURS["red"]), ("grey.png", (128, 128, 128))):
        invoke(s3_body(s3_record("images", key, **put(aws, key, png(colour)))))
    # Then the grey one is recorded and tagged unknown, its labels' top-k kept
    grey = item(aws, "grey.png")
    assert grey is not None and grey["status"] == "CLASSIFIED" and grey["label"] == "unknown"
    assert len(grey["top_k"]) == 3 and "unknown" not in {e["label"] for e in grey["top_k"]}
    assert grey["top_k"][0]["confidence"] < Decimal("0.9")
    assert tags(aws, "grey.png")["imgclf:label"] == "unknown"
    assert item(aws, "red.png")["label"] == "red"  # type: ignore[index]
    # And `imgclf results --label unknown` finds it, and only it
    code, out, err = _results(capsys, monkeypatch, "--label", "unknown", "--format", "json")
    assert code == 0, err
    assert [i["key"] for i in json.loads(out)] == ["grey.png"]


@dataclasses.dataclass
class RunningOutContext(FakeLambdaContext):
    """A context whose remaining time falls by `step_ms` at each look."""

    remaining_ms: int = 10_000
    step_ms: int = 0

    def get_remaining_time_in_millis(self) -> int:
        remaining, self.remaining_ms = self.remaining_ms, self.remaining_ms - self.step_ms
        return remaining


def test_records_are_not_started_when_too_little_time_is_left(aws: SimpleNamespace) -> None:
    # Given a batch of three images, and an invocation whose time runs out as it goes:
    # 10 s at the start, then 5.5 s, 1 s and none as each record is about to start
    bodies = [
        s3_body(s3_record("images", f"t{i}.png", **put(aws, f"t{i}.png", png(COLOURS["red"]))))
        for i in range(3)
    ]
    event = sqs_event(*bodies)
    context = RunningOutContext(remaining_ms=10_000, step_ms=4_500)
    # When the handler runs
    response = handler.lambda_handler(event, cast(LambdaContext, context))
    # Then the first record is done, and the two that would start with less than 20% of the
    # invocation's time left are failed alone (retried), instead of the whole batch timing out
    ids = [r["messageId"] for r in event["Records"]]
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == set(ids[1:])
    assert item(aws, "t0.png") is not None
    assert item(aws, "t1.png") is None and item(aws, "t2.png") is None


def test_each_images_line_is_logged_at_debug_only(aws: SimpleNamespace) -> None:
    # Given the logger at prod's level (INFO), then at dev's (DEBUG), writing to a buffer
    level, stream = handler.logger.log_level, handler.logger.registered_handler
    buffer = io.StringIO()
    previous = stream.setStream(buffer)  # type: ignore[attr-defined]
    try:
        for logged_level, key in (("INFO", "quiet.png"), ("DEBUG", "loud.png")):
            handler.logger.setLevel(logged_level)
            buffer.seek(0)
            buffer.truncate()
            invoke(s3_body(s3_record("images", key, **put(aws, key, png(COLOURS["red"])))))
            lines = [json.loads(line) for line in buffer.getvalue().splitlines() if key in line]
            # Then only DEBUG shows the image's "object handled" line (the table has it)
            shown = any(line.get("message") == "object handled" for line in lines)
            assert shown is (logged_level == "DEBUG")
            assert item(aws, key) is not None
    finally:
        handler.logger.setLevel(level)
        stream.setStream(previous)  # type: ignore[attr-defined]


def test_execution_environments_share_nothing_and_publish_their_own_metrics(
    aws: SimpleNamespace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two execution environments, as the local poller's two workers have
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    first, second = handler.FunctionEnvironment(), handler.FunctionEnvironment()
    bodies = {
        key: s3_body(s3_record("images", key, **put(aws, key, png(COLOURS[colour]))))
        for key, colour in (("e1.png", "red"), ("e2.png", "green"), ("e3.png", "blue"))
    }
    capsys.readouterr()
    # When both are invoked at once, one with two images and one with one
    calls = [(first, [bodies["e1.png"], bodies["e2.png"]]), (second, [bodies["e3.png"]])]
    threads = [
        threading.Thread(target=env, args=(sqs_event(*batch), FakeLambdaContext()))
        for env, batch in calls
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then each built its own runtime (model store, adapters) and metric set, and each
    # invocation's EMF line counts its own images only
    assert first.runtime() is not second.runtime()
    assert first.runtime().models is not second.runtime().models
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    counts = [line["ImagesClassified"] for line in emf]  # one value, or a list of one
    assert sorted(sum(c) if isinstance(c, list) else c for c in counts) == [1.0, 2.0]
    assert all(item(aws, key) is not None for key in bodies)


@pytest.mark.parametrize("loaded", [True, False])
def test_a_cold_start_without_the_native_unfilter_says_so_once(
    loaded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from classifier import png_unfilter

    # Given an execution environment whose image did or did not ship the native unfilter,
    # and the function's logger writing to a buffer
    if not loaded:
        monkeypatch.setattr(png_unfilter, "_library", None)
    built: list[int] = []

    def build() -> Any:
        built.append(1)
        return built

    environment = handler.FunctionEnvironment(build=build)
    stream, buffer = handler.logger.registered_handler, io.StringIO()
    previous = stream.setStream(buffer)  # type: ignore[attr-defined]
    try:
        # When its runtime is built, and asked for again
        environment.runtime()
        environment.runtime()
    finally:
        stream.setStream(previous)  # type: ignore[attr-defined]
    # Then a missing library is one warning line naming it, and a loaded one says nothing
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    warnings = [line for line in lines if "native PNG unfilter" in line.get("message", "")]
    assert len(built) == 1
    assert len(warnings) == (0 if loaded else 1)
    if warnings:
        assert warnings[0]["library"].endswith(png_unfilter.LIBRARY.name)
