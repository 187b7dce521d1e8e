"""`reclassify` after promoting a new version updates only the items of older versions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from imgclf.upload import collect

from .conftest import CliRun, RunningEnvironment, write_colour_images


@pytest.fixture(scope="module")
def env(environment_factory: Callable[..., RunningEnvironment]) -> Iterator[RunningEnvironment]:
    running = environment_factory(workers=2)
    yield running
    running.environment.stop()


def test_reclassify_updates_only_older_versions(
    env: RunningEnvironment,
    tiny_artifacts: dict[str, Path],
    cli: Callable[..., CliRun],
    tmp_path: Path,
) -> None:
    # Given objects classified by tiny-v1
    env.promote(tiny_artifacts["tiny-v1"], "tiny-v1")
    write_colour_images(tmp_path / "old", 2, seed=1)
    old = [u.key for u in collect([tmp_path / "old"])]
    env.upload(collect([tmp_path / "old"]))
    assert env.wait(old).complete
    # And, after tiny-v2 is promoted, new objects classified by tiny-v2
    env.promote(tiny_artifacts["tiny-v2"], "tiny-v2")
    time.sleep(1)  # the function re-reads the pointer after MODEL_REFRESH_SECONDS (0.5 s)
    write_colour_images(tmp_path / "new", 1, seed=2)
    new = [u.key for u in collect([tmp_path / "new"])]
    env.upload(collect([tmp_path / "new"]))
    new_items = env.wait(new, timeout=30, accept=lambda i: i["model_version"] == "tiny-v2").items
    assert len(new_items) == len(new)

    # When reclassify runs (a dry run first)
    run = cli("reclassify", "--dry-run")
    assert run.code == 0 and f"{len(old)} results" in run.out
    run = cli("reclassify", "--wait", "--timeout", "60")
    assert run.code == 0, run.err
    assert f"re-enqueued {len(old)} objects for model tiny-v2" in run.out

    # Then every old item has tiny-v2 and its labels, and the new items were not rewritten
    items = env.wait(old + new).items
    assert {items[key]["model_version"] for key in old + new} == {"tiny-v2"}
    assert all(items[key]["label"] == key.split("/")[1] for key in old)
    assert {key: items[key] for key in new} == new_items
    # And the object tags name the new model
    tags = env.deployment.client("s3").get_object_tagging(
        Bucket=env.deployment.images_bucket, Key=old[0]
    )["TagSet"]
    assert {"Key": "imgclf:model", "Value": "tiny-v2"} in tags
    # And a second run has nothing to do
    run = cli("reclassify")
    assert "already has model tiny-v2" in run.out
