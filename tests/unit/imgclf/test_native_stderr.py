"""Output during builds: native libraries' lines go to a file while Python's stderr stays on
the terminal (`native_stderr_to`); training's log lines go to that file during a build
(`log_to_file`) and are printed once during `imgclf train`."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgclf.output import TRAINING_LOGGER, log_to_file, native_stderr_to
from imgclf.trainer import _training_warnings


def test_native_output_goes_to_the_log_and_python_output_to_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "native.log"
    with native_stderr_to(log):
        os.write(2, b"from C++\n")
        print("from Python", file=sys.stderr)
    assert log.read_text() == "from C++\n"
    assert capfd.readouterr().err == "from Python\n"


def test_a_log_handler_made_inside_still_writes_after_it(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given a handler made inside the block (absl's is, when TensorFlow is first imported
    # there): it takes the stream sys.stderr is then
    with native_stderr_to(tmp_path / "native.log"):
        handler = logging.StreamHandler()
    logger = logging.getLogger("imgclf.tests.native_stderr")
    logger.addHandler(handler)
    logger.propagate = False
    # When it logs after the block, then the line reaches stderr, with no logging error
    try:
        logger.warning("record failed, left for a retry")
    finally:
        logger.removeHandler(handler)
    err = capfd.readouterr().err
    assert err == "record failed, left for a retry\n"


@pytest.fixture
def absl_like_root(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """A root handler in the format absl's prints with before its flags are parsed."""

    class Stderr(logging.Handler):  # sys.stderr as it is when a record comes
        def emit(self, record: logging.LogRecord) -> None:
            sys.stderr.write(self.format(record) + "\n")

    handler = Stderr()
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(handler)


def test_a_builds_training_lines_go_to_its_log_not_the_terminal(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], absl_like_root: None
) -> None:
    log = tmp_path / "native.log"
    with log_to_file(TRAINING_LOGGER, log):
        logging.getLogger("training.gate").error("quality gate FAILED: int8 accuracy 0.00%")
    assert capfd.readouterr().err == ""
    assert "ERROR training.gate: quality gate FAILED: int8 accuracy 0.00%" in log.read_text()
    # And afterwards the logger reaches the root's handlers again
    logging.getLogger("training.gate").error("after")
    assert capfd.readouterr().err == "ERROR:training.gate:after\n"


def test_trainings_warnings_are_printed_once(
    capfd: pytest.CaptureFixture[str], absl_like_root: None
) -> None:
    held: list[str] = []
    with _training_warnings(held):
        logging.getLogger("training.gate").error("quality gate FAILED: too few")
    assert capfd.readouterr().err == "quality gate FAILED: too few\n"
