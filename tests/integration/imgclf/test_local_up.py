"""`imgclf local up` announces itself (the state file) only once its model is live."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgclf import local
from imgclf.errors import CliError
from infra.local.environment import LocalEnvironment
from infra.local.state import claim_home, read_state, state_path


def test_the_state_file_appears_only_after_the_seeded_model_is_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
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
    # And the banner's AWS CLI example carries the credentials and region it needs (without
    # them the AWS CLI refused to sign: "Unable to locate credentials")
    (example,) = [line for line in capfd.readouterr().out.splitlines() if "try " in line]
    assert "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing" in example
    assert f"AWS_DEFAULT_REGION={state['region']} aws --endpoint-url http://127.0.0.1:" in example


def test_local_up_tags_choose_the_tags_the_function_writes() -> None:
    # The labels tag, off by default, could be turned on only by editing cdk.json
    assert local.local_config(None).tag_names == {"label", "confidence", "model"}
    assert local.local_config("label, labels").tag_names == {"label", "labels"}
    assert local.local_config("none").tag_names == frozenset()
    with pytest.raises(CliError, match=r"^--tags: local: tags: no tag name\(s\) to list 'lables'"):
        local.local_config("label,lables")


def test_a_second_local_up_started_while_the_first_seeds_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a `local up` still seeding its model (no state file yet), and a second one started
    # meanwhile, as a user who ran it twice would: both ran, and one was left orphaned
    monkeypatch.setenv("IMGCLF_HOME", str(tmp_path))
    second: dict[str, object] = {}

    def seed(deployment: object, home: Path | None = None) -> str:
        try:
            local.up(workers=1, visibility_timeout=None, seed=True, verbose=False)
        except CliError as error:
            second["error"] = str(error)
        return "v1"

    monkeypatch.setattr(local, "seed_models", seed)
    monkeypatch.setattr(LocalEnvironment, "wait", lambda environment: None)
    assert local.up(workers=1, visibility_timeout=None, seed=True, verbose=False) == 0
    # Then the second is refused at once, in one line, and the first is unharmed
    assert second["error"] == (
        f"a local environment is already starting in {tmp_path} (another `imgclf local up`)"
    )
    # And once the first has stopped, the home is free again
    claim = claim_home(tmp_path)
    assert claim is not None
    claim.close()
