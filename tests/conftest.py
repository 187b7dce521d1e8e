"""Session-wide fixtures: the tiny int8 model (built once, cached by source hash)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from classifier.artifact_files import pack_artifact

# The machine's Node.js 20 is past jsii's end-of-life date (2026-10-30): each worker's first
# CDK synthesis would print the same 12-line banner into the test output. `cdk deploy` and
# `cdk synth` run outside the tests still print it, where it is advice to a user.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

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


# make test runs the suite on pytest-xdist workers (-n 2 --dist loadscope), each a process
# with its own session fixtures. A "scope" goes to one worker as a whole: a module, so that its
# module-scoped setup (an end-to-end environment, a moto server) is made once; and the infra
# tests all together, so that the CDK synthesis (10-20 s) is made once per run. (xdist_group
# marks would say the same, but pytest 9 ignores the node ids pytest-xdist 3.8 rewrites.)
SHARED_SCOPES = {"tests/infra/": "tests/infra"}


def xdist_scope(nodeid: str) -> str:
    """The scope of a test on the workers: its module, or a scope its folder shares."""
    module = nodeid.split("::", 1)[0]
    shared = [scope for prefix, scope in SHARED_SCOPES.items() if module.startswith(prefix)]
    return shared[0] if shared else module


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """--dist loadscope with the scopes above."""
    from xdist.scheduler import LoadScopeScheduling

    class SharedScopeScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

    return SharedScopeScheduling(config, log) if config.getvalue("dist") == "loadscope" else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On xdist workers, put the scopes with a slow test first (a stable sort of
    pytest-randomly's shuffle, which runs before this hook).

    The scheduler hands out scopes in collection order (--no-loadscope-reorder): a scope that
    trains a model or runs the whole pipeline, started last, would leave a core idle while it
    runs. Every worker sorts alike (same seed), so their collections agree.
    """
    if hasattr(config, "workerinput"):
        slow = {xdist_scope(item.nodeid) for item in items if item.get_closest_marker("slow")}
        items.sort(key=lambda item: xdist_scope(item.nodeid) not in slow)
