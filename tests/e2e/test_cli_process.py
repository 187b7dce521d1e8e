"""The `imgclf` console script as a user runs it: `local up` in the foreground, Ctrl-C, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import write_colour_images

REPO = Path(__file__).resolve().parents[2]
IMGCLF = [sys.executable, "-m", "imgclf.main"]


def run(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IMGCLF_HOME": str(home), "IMGCLF_ENV": "local"}
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.run(
        [*IMGCLF, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("imgclf") and text in lines[0], lines[0]


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_commands_without_a_running_environment_fail_in_one_line(home: Path) -> None:
    assert_one_line_error(run(home, "results"), "no local environment is running")
    assert_one_line_error(run(home, "dlq", "list", "--env", "local"), "imgclf local up")


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("results", "--env", "staging"), "unknown environment 'staging'"),
        (("upload", "/no/such/file.jpg"), "no such file or folder: /no/such/file.jpg"),
        (("results", "--status", "MAYBE"), "unknown status 'MAYBE'"),
        (("results", "--since", "yesterday-ish"), "--since"),
        (("results", "--format", "xml"), "invalid choice"),
        (("demo", "--env", "dev"), "embedded environment only"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_usage_errors_are_one_line(home: Path, args: tuple[str, ...], text: str) -> None:
    assert_one_line_error(run(home, *args), text)


def test_local_up_serves_the_cli_and_stops_cleanly_on_ctrl_c(
    home: Path, tiny_artifacts: dict[str, Path], tmp_path: Path
) -> None:
    # Given a model artifact cached by an earlier `train`
    cached = home / "models" / "tiny-v1"
    cached.mkdir(parents=True)
    (cached / "model.tar.gz").write_bytes(tiny_artifacts["tiny-v1"].read_bytes())
    (cached / "VERSION").write_text("tiny-v1\n")
    # When `imgclf local up` runs in the foreground
    env = {**os.environ, "IMGCLF_HOME": str(home)}
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen(
        [*IMGCLF, "local", "up", "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    state_file = home / "local" / "endpoint.json"
    try:
        deadline = time.monotonic() + 60
        while not state_file.exists() and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.2)
        state = json.loads(state_file.read_text())
        assert state["endpoint_url"].startswith("http://127.0.0.1:")
        # Then a second one refuses to start
        assert_one_line_error(run(home, "local", "up"), "already running")
        # And the other commands find it, with the cached model live
        write_colour_images(tmp_path / "shots", 1)
        upload = run(home, "upload", str(tmp_path / "shots"), "--wait", "--timeout", "60")
        assert upload.returncode == 0, upload.stderr
        shown = run(home, "result", "shots/green/green-0-0.jpg", "--format", "json")
        assert json.loads(shown.stdout)["label"] == "green"
        assert json.loads(shown.stdout)["model_version"] == "tiny-v1"
    finally:
        # When Ctrl-C arrives
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    # Then it exits cleanly, printed its endpoint, and removed its state file
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert state["endpoint_url"] in out
    assert "aws --endpoint-url" in out
    assert not state_file.exists()
    assert_one_line_error(run(home, "results"), "no local environment is running")
