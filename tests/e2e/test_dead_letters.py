"""Transient failures and poison messages end in the DLQ; `dlq redrive` brings them back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from classifier.contracts import Status
from imgclf.dlq import Redriven, redrive
from imgclf.upload import collect

from .conftest import CliRun, RunningEnvironment, poller_of, write_colour_images

VISIBILITY_SECONDS = 1


@pytest.fixture(scope="module")
def env(environment_factory: Callable[..., RunningEnvironment]) -> Iterator[RunningEnvironment]:
    # A short visibility timeout so that maxReceiveCount receives take seconds, not minutes.
    running = environment_factory(workers=2, visibility_timeout_seconds=VISIBILITY_SECONDS)
    yield running
    running.environment.stop()


def wait_for_dlq(env: RunningEnvironment, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if env.queue_depth(dead_letter=True) >= count and env.queue_depth() == 0:
            return
        time.sleep(0.3)
    raise AssertionError(f"DLQ holds {env.queue_depth(dead_letter=True)}, wanted {count}")


def test_dlq_then_redrive(
    env: RunningEnvironment,
    tiny_artifacts: dict[str, Path],
    cli: Callable[..., CliRun],
    tmp_path: Path,
) -> None:
    # Given no model is promoted yet (a transient failure) and a message that is not JSON
    write_colour_images(tmp_path / "early", 1)
    uploads = collect([tmp_path / "early"])
    stats_before = poller_of(env).stats.snapshot()  # before anything can fail
    env.upload(uploads)
    env.sqs().send_message(QueueUrl=env.deployment.queue_url, MessageBody="poison: not json")

    # When maxReceiveCount receives have failed
    wait_for_dlq(env, len(uploads) + 1)

    # Then each message was tried maxReceiveCount times and nothing reached the table
    stats = poller_of(env).stats.snapshot()
    max_receives = env.environment.config.max_receive_count
    assert stats["failed"] - stats_before["failed"] >= (len(uploads) + 1) * max_receives
    accounting = env.wait([u.key for u in uploads], timeout=5)
    assert accounting.items == {}
    assert accounting.dead_lettered == {u.key for u in uploads}

    # And `dlq list` shows the objects and the poison body
    run = cli("dlq", "list", "--format", "json")
    assert run.code == 0, run.err
    letters = json.loads(run.out)
    assert len(letters) == len(uploads) + 1
    assert {o["key"] for letter in letters for o in letter["objects"]} == {u.key for u in uploads}
    assert all(letter["receive_count"] >= max_receives for letter in letters)

    # And `upload --wait` of more images, still with no model, fails and names them
    write_colour_images(tmp_path / "late", 1)
    late = collect([tmp_path / "late"], "late/")
    run = cli("upload", "--wait", "--timeout", "60", "--prefix", "late/", str(tmp_path / "late"))
    assert run.code == 1, run.out
    assert f"{len(late)} in the DLQ ({min(u.key for u in late)}, " in run.err
    assert "see `imgclf dlq list`" in run.err
    assert run.out.strip() == "", run.out  # no empty results table before the failure
    uploads += late

    # When a model is promoted and the DLQ is redriven
    env.promote(tiny_artifacts["tiny-v1"], "tiny-v1")
    time.sleep(1)  # the function re-reads the pointer after MODEL_REFRESH_SECONDS
    # (while another reader holds one message hidden for a few seconds, as a `dlq list` or an
    # `upload --wait` looking in does: redrive said "moved" and left it behind)
    dlq_url = env.deployment.dead_letter_queue_url
    held = env.sqs().receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=1, VisibilityTimeout=3)
    assert len(held["Messages"]) == 1
    run = cli("dlq", "redrive")
    assert run.code == 0, run.err
    assert f"moved {len(uploads) + 1} messages" in run.out

    # Then the images are classified, and only the poison message returns to the DLQ
    accounting = env.wait([u.key for u in uploads], timeout=60)
    assert {item["status"] for item in accounting.items.values()} == {Status.CLASSIFIED}
    wait_for_dlq(env, 1)
    run = cli("dlq", "list", "--format", "json")
    assert [letter["body"] for letter in json.loads(run.out)] == ["poison: not json"]
    # And a redrive that gives up waiting for a held message says it is left
    env.sqs().receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=1, VisibilityTimeout=30)
    progress: list[tuple[int, int]] = []
    redriven = redrive(env.deployment, settle_seconds=0, on_moved=lambda *p: progress.append(p))
    assert redriven == Redriven(moved=0, left=1)
    assert progress == [(0, 1)]  # the bar's total is known from the start
    # And a redrive of an empty DLQ says so
    env.sqs().purge_queue(QueueUrl=dlq_url)
    run = cli("dlq", "redrive")
    assert run.code == 0 and "the DLQ is empty: nothing to move" in run.out, run.out
