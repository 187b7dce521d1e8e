"""Session-wide fixtures: the tiny int8 model (built once, cached by source hash)."""

from __future__ import annotations

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
    import tiny_model

    return tiny_model.cached(CACHE)


@pytest.fixture(scope="session")
def tiny_model_tarball(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model packed as model.tar.gz."""
    return pack_artifact(tiny_model_dir, tmp_path_factory.mktemp("artifact") / "model.tar.gz")
