"""`imgclf local up` announces itself (the state file) only once its model is live."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgclf import local
from infra.local.environment import LocalEnvironment
from infra.local.state import read_state, state_path


def test_the_state_file_appears_only_after_the_seeded_model_is_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a fresh IMGCLF_HOME, and seeding that notes whether the CLI could see it yet
    monkeypatch.setenv("IMGCLF_HOME", str(tmp_path))
    seen: dict[str, object] = {}

    def seed(deployment: object, home: Path | None = None) -> str:
        seen["state file while seeding"] = state_path(tmp_path).exists()
        return "v1"

    def wait(environment: LocalEnvironment) -> None:
        seen["state while serving"] = read_state(tmp_path)
        raise KeyboardInterrupt  # Ctrl-C

    monkeypatch.setattr(local, "seed_models", seed)
    monkeypatch.setattr(LocalEnvironment, "wait", wait)
    # When `imgclf local up` runs
    assert local.up(workers=1, visibility_timeout=None, seed=True, verbose=False) == 0
    # Then no other process could find it before the model was live, and could once it was
    assert seen["state file while seeding"] is False
    state = seen["state while serving"]
    assert isinstance(state, dict) and state["endpoint_url"].startswith("http://127.0.0.1:")
    # And Ctrl-C removed it
    assert not state_path(tmp_path).exists()
