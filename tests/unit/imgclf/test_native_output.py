"""Native libraries' lines (written straight to fd 2) go to a log while a model is built."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imgclf.errors import CliError
from imgclf.packed import building


def test_a_builds_native_lines_go_to_its_log_not_the_terminal(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # When a build writes to fd 2 as TensorFlow's C++ does
    with building(tmp_path, "building a model"):
        os.write(2, b"I0000 oneDNN custom operations are on\n")
    # Then the line is in target/native.log and not on the terminal
    assert "oneDNN" in (tmp_path / "native.log").read_text()
    assert "oneDNN" not in capfd.readouterr().err


def test_a_users_mistake_stays_one_line_and_a_crash_names_the_log(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # A CliError (a bad mapping file, say) adds nothing to its own one line
    with pytest.raises(CliError), building(tmp_path, "building a model"):
        raise CliError("mapping.json: not JSON")
    assert "native.log" not in capfd.readouterr().err
    # Anything else points at the log, where the native side of the failure is
    with pytest.raises(RuntimeError), building(tmp_path, "building a model"):
        raise RuntimeError("converter crashed")
    assert str(tmp_path / "native.log") in capfd.readouterr().err
