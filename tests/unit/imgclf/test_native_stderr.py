"""`native_stderr_to`: native output goes to a file, Python's stderr stays on the terminal."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from imgclf.output import native_stderr_to


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
