"""`imgclf status` on moto: the live model, the queues, counts by label and throughput."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from unittest.mock import ANY

import boto3
import pytest

from classifier.contracts import ModelPointer, artifact_key, model_digest
from classifier.model import Classification, Prediction
from classifier.results import ObjectFacts, classified_item, rejected_item
from imgclf import commands, status
from imgclf.labels import count_partition
from imgclf.main import main as cli_main
from imgclf.status import STATUS_LABEL_ROWS, LiveModel, Snapshot, gather, render

REGION = "us-east-1"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def at(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write(aws: SimpleNamespace, key: str, label: str | None, moment: datetime) -> None:
    facts = ObjectFacts("images", key, f"e-{key}", None, 10, at(moment))
    if label is None:
        item = rejected_item(facts, reason="empty", model_version="v1", latency_ms=1)
    else:
        best = Prediction(label, 0.9)
        item = classified_item(
            facts,
            classification=Classification(best, [best], other=0),
            model_version="v1",
            width=1,
            height=1,
            latency_ms=1,
            tags="applied",
        )
    assert aws.results.put({**item, "classified_at": at(moment)})


def promote(aws: SimpleNamespace, metadata: dict[str, Any], digest: str = "") -> None:
    put_artifact(aws, metadata)
    pointer = ModelPointer(uri=f"s3://models/{artifact_key('v1')}", version="v1", digest=digest)
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/imgclf/test/model", Value=pointer.to_json(), Type="String"
    )


def put_artifact(aws: SimpleNamespace, metadata: dict[str, Any]) -> bytes:
    """v1's model.tar.gz holding this model.json; returns the model.json bytes."""
    buffer = io.BytesIO()
    data = json.dumps(metadata).encode()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    aws.s3.put_object(Bucket="models", Key=artifact_key("v1"), Body=buffer.getvalue())
    return data


def test_status_says_when_the_live_artifact_was_replaced_after_promotion(
    aws: SimpleNamespace,
) -> None:
    # Given v1 promoted with its model.json's digest, then its artifact replaced: the function
    # refuses it and serves the model before, but status named it live with the new figures
    checked = {"version": "v1", "architecture": "a", "labels": ["cat"], "gate": {"passed": True}}
    promote(aws, checked, digest=model_digest(json.dumps(checked).encode()))
    assert gather(aws.deployment, since=NOW, now=NOW).live == LiveModel(
        version="v1", promoted_at=ANY, architecture="a", labels=("cat",), gate="passed"
    )
    put_artifact(aws, {**checked, "labels": ["cat", "dog"]})
    # When status is gathered
    live = gather(aws.deployment, since=NOW, now=NOW).live
    # Then it says so, and shows none of the replaced model.json's figures
    assert live is not None and live.problem and live.labels == () and live.gate != "passed"
    (line,) = [line for line in status._model_lines(live) if "REPLACED" in line]
    assert line.startswith("live model: v1, REPLACED after promotion")
    # And a deleted artifact, and a pointer no function can read, are said too (status had
    # shown "0 labels, no gate verdict", and "none promoted")
    aws.s3.delete_object(Bucket="models", Key=artifact_key("v1"))
    live = gather(aws.deployment, since=NOW, now=NOW).live
    assert live is not None and live.problem == (
        f"its artifact s3://models/{artifact_key('v1')} is missing or unreadable"
    )
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/imgclf/test/model", Value="not json", Type="String", Overwrite=True)
    live = gather(aws.deployment, since=NOW, now=NOW).live
    assert live is not None and live.version == "?"
    assert live.problem is not None and live.problem.startswith(
        "its pointer /imgclf/test/model is malformed ("
    )


def test_status_reads_the_model_queues_counts_and_throughput(aws: SimpleNamespace) -> None:
    # Given a promoted model, 3 messages waiting (1 in flight), 2 dead letters, and results:
    # 6 cats and 2 dogs over the last 12 minutes, a reject 3 minutes ago, 4 cats two days ago
    promote(
        aws,
        {
            "version": "v1",
            "architecture": "efficientnet_lite0",
            "labels": ["cat", "dog", "cow"],
            "hierarchy": {"file": "hierarchy.json", "version": "wn30-abc", "classes": 1000},
            "gate": {"passed": True},
            "metrics": {
                "int8_accuracy": 0.97,
                "evaluations": {"real-photos": {"accuracy": 0.903, "count": 31}},
            },
        },
    )
    for i in range(4):
        aws.sqs.send_message(QueueUrl=aws.deployment.queue_url, MessageBody=f"m{i}")
    aws.sqs.receive_message(QueueUrl=aws.deployment.queue_url, MaxNumberOfMessages=1)
    for _ in range(2):
        aws.sqs.send_message(QueueUrl=aws.deployment.dead_letter_queue_url, MessageBody="x")
    for i in range(6):
        write(aws, f"cat/{i}.jpg", "cat", NOW - timedelta(minutes=2 * i, seconds=30))
    write(aws, "dog/0.jpg", "dog", NOW - timedelta(seconds=20))
    write(aws, "dog/1.jpg", "dog", NOW - timedelta(minutes=30))
    write(aws, "bad.jpg", None, NOW - timedelta(minutes=3))
    for i in range(4):
        write(aws, f"old/{i}.jpg", "cat", NOW - timedelta(days=2))
    # When the status is gathered for the last 24 hours
    snapshot = gather(aws.deployment, since=NOW - timedelta(hours=24), now=NOW)
    # Then each figure is what was written
    assert snapshot.live is not None and snapshot.live.version == "v1"
    assert snapshot.live.gate == "passed" and snapshot.live.labels == ("cat", "dog", "cow")
    assert snapshot.live.hierarchy == "wn30-abc"
    assert snapshot.live.accuracy == {"int8 test accuracy": "97.0%", "real-photos": "90.3% of 31"}
    assert snapshot.queue == {"visible": 3, "in flight": 1, "delayed": 0}
    assert snapshot.dead_letters == 2
    # (cow, a label of the live model that no item has yet, is counted too: 0)
    assert snapshot.counts == {"cat": 6, "dog": 2, "cow": 0, "!rejected": 1}
    # within 1 min: cat/0 (0:30 ago), dog/0; 5 min: + cat/1 (2:30), cat/2 (4:30), the reject
    assert snapshot.throughput == {1: 2, 5: 5, 15: 8}
    lines = render(snapshot)
    text = "\n".join(lines)
    assert len(lines) <= 30
    assert "v1 (efficientnet_lite0, 3 labels, generic labels, hierarchy wn30-abc)" in text
    assert any(line.split() == ["cow", "0", "0.0%"] for line in lines)
    assert "3 waiting, 1 in flight, 0 delayed; dead-letter queue: 2" in text
    assert "8 classified, 1 rejected" in text
    assert "2.0/min over 1 min" in text and "1.0/min over 5 min" in text


def idle_snapshot(counts: dict[str, int]) -> Snapshot:
    """A day's counts with no model live, an empty queue and no throughput."""
    return Snapshot(
        env="dev",
        taken_at=NOW,
        since=NOW - timedelta(hours=24),
        live=None,
        queue={"visible": 0, "in flight": 0, "delayed": 0},
        dead_letters=0,
        counts=counts,
        throughput={1: 0, 5: 0, 15: 0},
    )


def test_status_of_an_empty_environment_says_what_is_missing() -> None:
    snapshot = idle_snapshot({})
    text = "\n".join(render(snapshot))
    assert "none promoted" in text and "0 classified, 0 rejected" in text
    failed = LiveModel(version="v2", gate="failed: worse than the live model")
    assert "gate: failed: worse" in "\n".join(
        render(Snapshot(**{**snapshot.__dict__, "live": failed}))
    )


def test_the_command_prints_the_screen_and_refuses_a_bad_window(
    aws: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(commands, "resolve", lambda env: aws.deployment)
    assert cli_main(["status", "--since", "2h"]) == 0
    assert "imgclf status: test" in capsys.readouterr().out
    assert cli_main(["status", "--since", "yesterday-ish"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--since" in err


def test_status_without_a_running_local_environment_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMGCLF_HOME", str(tmp_path))
    assert cli_main(["status", "--env", "local"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_a_label_with_nothing_in_the_window_costs_one_query_per_shard(
    aws: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given cats now and birds only two days ago (a generic model registers hundreds of
    # labels, most of them quiet on any given day)
    write(aws, "cat/0.jpg", "cat", NOW - timedelta(seconds=20))
    write(aws, "bird/0.jpg", "bird", NOW - timedelta(days=2))
    asked: list[tuple[str, str | None]] = []

    def counted(client: Any, table: str, partition: str, since: str | None = None) -> int:
        asked.append((partition, since))
        return count_partition(client, table, partition, since)

    monkeypatch.setattr(status, "count_partition", counted)
    # When the status is gathered
    snapshot = gather(aws.deployment, since=NOW - timedelta(hours=24), now=NOW)
    # Then the figures are right, and the birds' shards were asked once each (the day's
    # window), the cats' shards for every window, and the narrower windows only where the
    # wider one found items
    assert snapshot.counts == {"cat": 1, "bird": 0} and snapshot.throughput == {1: 1, 5: 1, 15: 1}
    birds = [since for partition, since in asked if partition.startswith("bird")]
    assert len(birds) == 4 and set(birds) == {at(NOW - timedelta(hours=24))}
    cats = [since for partition, since in asked if partition.startswith("cat")]
    assert len(cats) == 4 + 3


def test_a_generic_models_many_labels_stay_on_one_screen() -> None:
    # Given 40 labels with items, as a generic model writes, and 5 with none in the window
    counts = {f"label {i:02}": 40 - i for i in range(40)} | {f"quiet {i}": 0 for i in range(5)}
    lines = render(idle_snapshot(counts))
    # Then the busiest labels are shown and one line counts the rest that have items
    assert len(lines) <= 30
    assert any(line.strip().startswith("label 00") for line in lines)
    rest = sum(40 - i for i in range(STATUS_LABEL_ROWS - 1, 40))
    assert lines[-1] == (
        f"  ... {40 - STATUS_LABEL_ROWS + 1} more labels, {rest} items "
        "(imgclf labels: all, at every level)"
    )


def test_a_quiet_label_is_a_row_only_when_it_is_the_live_models_own() -> None:
    # Given a trained model's labels, one of them quiet today, and the registry's generic
    # labels and second labels, one busy and two quiet
    counts = {"cat": 3, "dog": 0, "tabby cat": 2, "implement": 0, "keyboard": 0}
    trained = LiveModel(version="v2", labels=("cat", "dog"), hierarchy="wn30-abc")
    lines = render(Snapshot(**{**idle_snapshot(counts).__dict__, "live": trained}))
    counted = next(i for i, line in enumerate(lines) if " classified, " in line)
    rows = [line.split()[0] for line in lines[counted + 1 :]]
    # Then the trained model's quiet label keeps its row and the quiet generic ones have none
    assert rows == ["cat", "tabby", "dog"]
    # And a generic model (no labels of its own) lists only the labels with items
    generic = LiveModel(version="g1", hierarchy="wn30-abc")
    lines = render(Snapshot(**{**idle_snapshot(counts).__dict__, "live": generic}))
    assert lines[2] == "live model: g1 (?, generic labels, hierarchy wn30-abc)"
    assert "dog" not in "\n".join(lines) and "5 classified" in "\n".join(lines)
