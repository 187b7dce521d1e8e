"""LiteRT's start-up INFO line stays off stderr; anything else written meanwhile does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHILD = """
import os, sys
from classifier.model import LoadedModel
from classifier import native_log
import numpy as np


def noisy_build():  # something else writes to fd 2 while the first interpreter is built
    os.write(2, b"an error of ours\\n")

original = LoadedModel._new_interpreter
def build(self):
    noisy_build()
    return original(self)
LoadedModel._new_interpreter = build
model = LoadedModel.from_directory(__import__("pathlib").Path(sys.argv[1]))
side = model.spec.height
print(model.raw(np.zeros((side, side, 3), np.uint8)).shape)
"""


def run_child(tiny_model_dir: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, str(tiny_model_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_the_xnnpack_line_is_filtered_and_other_stderr_is_kept(tiny_model_dir: Path) -> None:
    # When a process builds its first interpreter through the function's model
    done = run_child(tiny_model_dir, CHILD)
    # Then the inference ran, LiteRT's INFO line is gone and our own line came through
    assert done.stdout.strip().startswith("(")
    assert "XNNPACK" not in done.stderr
    assert "an error of ours" in done.stderr


def test_without_the_filter_litert_prints_the_line(tiny_model_dir: Path) -> None:
    # The filter is what removes it: bypassed, the same build prints it (the test above
    # would pass vacuously if LiteRT stopped printing)
    code = CHILD.replace("from classifier import native_log", "from classifier import native_log\n"
                         "native_log._quiet_done = True")  # fmt: skip
    done = run_child(tiny_model_dir, code)
    assert "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." in done.stderr
