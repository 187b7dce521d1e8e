"""Session-wide fixtures: the tiny int8 model (built once, cached by source hash)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from classifier.artifact_files import pack_artifact

REPO = Path(__file__).resolve().parents[1]
MOTO_REGION = "us-east-1"
FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": MOTO_REGION,
}
CACHE = REPO / ".imgclf" / "test-cache"


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """An unpacked artifact of a real int8 CNN that labels images red, green or blue."""
    sys.path.insert(0, str(REPO / "tests" / "fixtures"))
    import tiny_model

    return Path(tiny_model.cached(CACHE))


@pytest.fixture(scope="session")
def tiny_model_tarball(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model packed as model.tar.gz."""
    return pack_artifact(tiny_model_dir, tmp_path_factory.mktemp("artifact") / "model.tar.gz")


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> str:
    """Credentials and a region for moto's mock_aws, and no endpoint override; the region."""
    for name, value in FAKE_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    return MOTO_REGION
