"""`imgclf upload --wait` on its own environment: the objects it adds would change what the
listings of test_pipeline.py find, in whatever order the tests run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from .conftest import CliRun, RunningEnvironment, write_colour_images


def test_upload_command_uploads_a_folder_and_waits(
    cli: Callable[..., CliRun], env: RunningEnvironment, tmp_path: Path
) -> None:
    write_colour_images(tmp_path / "more", 1, seed=5)
    run = cli("upload", str(tmp_path / "more"), "--prefix", "cli", "--wait", "--timeout", "60")
    assert run.code == 0, run.err
    assert "cli/more/red/red-5-0.jpg" in run.out
    run = cli("result", "cli/more/green/green-5-0.jpg", "--format", "json")
    assert json.loads(run.out)["label"] == "green"
