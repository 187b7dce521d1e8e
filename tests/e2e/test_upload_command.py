"""`imgclf upload --wait` on its own environment: the objects it adds would change what the
listings of test_pipeline.py find, in whatever order the tests run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from .conftest import CliRun, RunningEnvironment, poller_of, write_colour_images


def test_upload_command_uploads_a_folder_and_waits(
    cli: Callable[..., CliRun], env: RunningEnvironment, tmp_path: Path
) -> None:
    write_colour_images(tmp_path / "more", 1, seed=5)
    run = cli("upload", str(tmp_path / "more"), "--prefix", "cli", "--wait", "--timeout", "60")
    assert run.code == 0, run.err
    assert "cli/more/red/red-5-0.jpg" in run.out
    run = cli("result", "cli/more/green/green-5-0.jpg", "--format", "json")
    assert json.loads(run.out)["label"] == "green"


def test_upload_wait_waits_for_this_uploads_result_not_the_keys_earlier_one(
    cli: Callable[..., CliRun], env: RunningEnvironment, tmp_path: Path
) -> None:
    # Given a key with a CLASSIFIED result
    [image] = write_colour_images(tmp_path / "first", 1, seed=9)[:1]
    (tmp_path / "second").mkdir()
    (tmp_path / "second" / image.name).write_text("this is text, not an image")
    first = cli("upload", str(image), "--prefix", "again", "--wait", "--timeout", "60")
    assert first.code == 0, first.err
    assert "CLASSIFIED" in first.out
    # When another object goes to the same key while nothing is classified
    second = [str(tmp_path / "second" / image.name), "--prefix", "again", "--wait"]
    poller_of(env).stop()
    try:
        waited = cli("upload", *second, "--timeout", "2")
    finally:
        poller_of(env).start()
    # Then the wait does not take the key's earlier result for this upload's (it returned
    # CLASSIFIED at once, with exit 0)
    assert waited.code == 1
    assert "1 objects not accounted for after 2.0s: again/red-9-0.jpg" in waited.err
    assert "CLASSIFIED" not in waited.out
    # And once classified, this upload's result is the one reported
    again = cli("upload", *second, "--timeout", "60")
    assert again.code == 0, again.err
    assert "REJECTED" in again.out and "CLASSIFIED" not in again.out
    # And the same bytes uploaded again are a new object too: the key's result of the same
    # bytes, written before this upload, is not taken for this one's
    poller_of(env).stop()
    try:
        same = cli("upload", *second, "--timeout", "2")
    finally:
        poller_of(env).start()
    assert same.code == 1 and "not accounted for" in same.err
