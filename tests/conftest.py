"""Session-wide fixtures: the tiny int8 model (built once, cached by source hash)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from classifier.artifact import pack_artifact

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".imgclf" / "test-cache"


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """An unpacked artifact of a real int8 CNN that labels images red, green or blue."""
    sys.path.insert(0, str(REPO / "tests" / "fixtures"))
    from tiny_model import source_hash

    target = CACHE / f"tiny-model-{source_hash()}"
    if not (target / "model.tflite").is_file():
        # A subprocess keeps TensorFlow out of this process (the function never imports it).
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        subprocess.run(
            [sys.executable, str(REPO / "tests" / "fixtures" / "tiny_model.py"), str(target)],
            check=True,
            env=env,
            capture_output=True,
        )
    return target


@pytest.fixture(scope="session")
def tiny_model_tarball(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model packed as model.tar.gz."""
    return pack_artifact(tiny_model_dir, tmp_path_factory.mktemp("artifact") / "model.tar.gz")
