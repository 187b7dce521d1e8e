"""The pipeline end to end with the red/green/blue model: classify, reject, tag, deduplicate."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import pytest

from classifier.contracts import OUR_TAG_KEYS, Status
from imgclf.samples import USER_TAGS, write_bad_inputs
from imgclf.upload import collect

from .conftest import CliRun, RunningEnvironment, colour_jpeg, poller_of, write_colour_images

PER_COLOUR = 4


@pytest.fixture(scope="module")
def uploaded(env: RunningEnvironment, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Colour images, the bad inputs and one image with the user's own tags, all processed."""
    root = tmp_path_factory.mktemp("pipeline")
    write_colour_images(root / "colours", PER_COLOUR)
    write_bad_inputs(root / "bad", colour_jpeg("red", 99, size=256))
    (root / "tagged" / "blue").mkdir(parents=True)
    (root / "tagged" / "blue" / "mine.jpg").write_bytes(colour_jpeg("blue", 7))
    plain = collect([root / "colours", root / "bad"])
    tagged = collect([root / "tagged"])
    env.upload(plain)
    env.upload(tagged, tags=USER_TAGS)
    keys = [u.key for u in plain + tagged]
    accounting = env.wait(keys, timeout=90)
    return {"keys": keys, "accounting": accounting, "tagged": tagged[0].key}


def test_every_object_is_accounted_for_in_the_table(uploaded: dict[str, Any]) -> None:
    accounting = uploaded["accounting"]
    assert accounting.missing == set()
    assert accounting.dead_lettered == set()
    assert set(accounting.items) == set(uploaded["keys"])


def test_images_are_classified_as_their_colour(uploaded: dict[str, Any]) -> None:
    items = uploaded["accounting"].items
    colour_items = {k: v for k, v in items.items() if k.startswith("colours/")}
    assert len(colour_items) == 3 * PER_COLOUR
    for key, item in colour_items.items():
        assert item["status"] == Status.CLASSIFIED, key
        assert item["label"] == key.split("/")[1], key
        assert item["model_version"] == "tiny-v1"
        assert [entry["label"] for entry in item["top_k"]][0] == item["label"]


def test_bad_inputs_are_rejected_with_reasons(uploaded: dict[str, Any]) -> None:
    items = uploaded["accounting"].items
    bad = {k.split("/")[-1]: v for k, v in items.items() if k.startswith("bad/")}
    assert set(bad) == {"truncated.jpg", "not-an-image.jpg", "empty.jpg", "bomb.png"}
    for name, item in bad.items():
        assert item["status"] == Status.REJECTED, name
        assert item["reason"], name
    assert "truncated" in bad["truncated.jpg"]["reason"]
    assert "not a recognised image" in bad["not-an-image.jpg"]["reason"]
    assert "MP limit" in bad["bomb.png"]["reason"]


def object_tags(env: RunningEnvironment, key: str) -> dict[str, str]:
    response = env.deployment.client("s3").get_object_tagging(
        Bucket=env.deployment.images_bucket, Key=key
    )
    return {tag["Key"]: tag["Value"] for tag in response["TagSet"]}


def test_tags_are_added_and_the_users_own_tags_kept(
    env: RunningEnvironment, uploaded: dict[str, Any]
) -> None:
    tags = object_tags(env, uploaded["tagged"])
    assert {k: tags.get(k) for k in USER_TAGS} == USER_TAGS
    assert tags["imgclf:label"] == "blue"
    assert tags["imgclf:model"] == "tiny-v1"
    plain_tags = object_tags(env, "colours/red/red-0-0.jpg")
    assert set(plain_tags) == set(OUR_TAG_KEYS)


def s3_notification(env: RunningEnvironment, item: dict[str, Any]) -> str:
    """The body S3 (as moto shapes it) sends for this object's creation."""
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": str(item["event_order"]).split("#")[0],
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": env.deployment.images_bucket},
                        "object": {
                            "key": quote_plus(str(item["key"])),
                            "size": int(item["size"]),
                            "eTag": item["etag"],
                        },
                    },
                }
            ]
        }
    )


def test_duplicate_deliveries_write_nothing(
    env: RunningEnvironment, uploaded: dict[str, Any]
) -> None:
    # Given classified objects and their items
    keys = ["colours/green/green-0-1.jpg", uploaded["tagged"]]
    before = {key: uploaded["accounting"].items[key] for key in keys}
    tags_before = {key: object_tags(env, key) for key in keys}
    stats_before = poller_of(env).stats.snapshot()
    # When S3 delivers the same notification three more times
    for key in keys:
        for _ in range(3):
            env.sqs().send_message(
                QueueUrl=env.deployment.queue_url, MessageBody=s3_notification(env, before[key])
            )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stats = poller_of(env).stats.snapshot()
        if stats["succeeded"] - stats_before["succeeded"] >= 6 and env.queue_depth() == 0:
            break
        time.sleep(0.2)
    # Then every delivery was acknowledged, and neither the items nor the tags changed
    assert poller_of(env).stats.snapshot()["succeeded"] - stats_before["succeeded"] >= 6
    after = env.wait(keys).items
    assert after == before
    assert {key: object_tags(env, key) for key in keys} == tags_before


def test_results_by_label_uses_the_label_index(
    cli: Callable[..., CliRun], uploaded: dict[str, Any]
) -> None:
    run = cli("results", "--env", "local", "--label", "red", "--format", "json", "--limit", "0")
    assert run.code == 0, run.err
    items = json.loads(run.out)
    assert {item["key"] for item in items} == {
        k for k in uploaded["keys"] if k.startswith("colours/red/")
    }
    times = [item["classified_at"] for item in items]
    assert times == sorted(times, reverse=True)  # newest first


def test_results_by_status_and_csv(cli: Callable[..., CliRun], uploaded: dict[str, Any]) -> None:
    run = cli("results", "--status", "rejected", "--format", "csv")
    assert run.code == 0, run.err
    lines = run.out.strip().splitlines()
    assert lines[0].startswith("key,status,label")
    assert sorted(line.split(",")[0] for line in lines[1:]) == sorted(
        k for k in uploaded["keys"] if k.startswith("bad/")
    )


def test_status_shows_the_running_environment(
    cli: Callable[..., CliRun], uploaded: dict[str, Any]
) -> None:
    run = cli("status")
    assert run.code == 0, run.err
    rejected = sum(1 for k in uploaded["keys"] if k.startswith("bad/"))
    classified = len(uploaded["keys"]) - rejected
    assert "imgclf status: local" in run.out and "live model: " in run.out
    assert f"{classified} classified, {rejected} rejected" in run.out
    assert "dead-letter queue: 0" in run.out


def test_results_without_filters_lists_both_statuses(
    cli: Callable[..., CliRun], uploaded: dict[str, Any]
) -> None:
    run = cli("results", "--format", "json", "--limit", "0")
    assert {item["key"] for item in json.loads(run.out)} == set(uploaded["keys"])
    run = cli("results", "--format", "json", "--limit", "5", "--min-confidence", "0.5")
    items = json.loads(run.out)
    assert len(items) == 5 and all(item["confidence"] >= 0.5 for item in items)
    run = cli("results", "--format", "json", "--since", "2999-01-01")
    assert json.loads(run.out) == []


def test_result_shows_the_item_and_object_tags(
    cli: Callable[..., CliRun], uploaded: dict[str, Any]
) -> None:
    run = cli("result", uploaded["tagged"], "--format", "json")
    assert run.code == 0, run.err
    shown = json.loads(run.out)
    assert shown["label"] == "blue"
    assert shown["object_tags"]["owner"] == USER_TAGS["owner"]


def test_model_list_marks_the_live_version(
    cli: Callable[..., CliRun], uploaded: dict[str, Any]
) -> None:
    run = cli("model", "list")
    assert run.code == 0
    assert "tiny-v1" in run.out and "*" in run.out


def test_a_missing_result_is_a_one_line_error(
    cli: Callable[..., CliRun], uploaded: dict[str, Any]
) -> None:
    run = cli("result", "no/such/key.jpg")
    assert run.code == 1
    assert run.err.strip().count("\n") == 0
    assert "no result for 'no/such/key.jpg'" in run.err


def test_promoting_a_missing_version_is_a_one_line_error(
    cli: Callable[..., CliRun], uploaded: dict[str, Any]
) -> None:
    run = cli("model", "promote", "v404")
    assert run.code == 1
    assert (
        run.err.strip().splitlines() == [run.err.strip()] and "no model version 'v404'" in run.err
    )
