"""Where imgclf keeps generated data and finds the running local environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.state import HOME_VARIABLE, imgclf_home, state_path


def test_a_subfolder_of_a_project_finds_the_projects_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given `imgclf local up` ran in a project, and a user works in a photo folder inside it
    monkeypatch.delenv(HOME_VARIABLE, raising=False)
    (tmp_path / ".imgclf").mkdir()
    photos = tmp_path / "photos" / "2026"
    photos.mkdir(parents=True)
    # Then the commands run there find the project's state file, as git finds .git
    assert imgclf_home(photos) == tmp_path / ".imgclf"
    monkeypatch.chdir(photos)
    assert state_path() == tmp_path / ".imgclf" / "local" / "endpoint.json"


def test_the_nearest_folder_wins_and_none_means_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(HOME_VARIABLE, raising=False)
    inner = tmp_path / "a" / "b"
    (inner / ".imgclf").mkdir(parents=True)
    (inner / "c").mkdir()
    (tmp_path / ".imgclf").mkdir()
    assert imgclf_home(inner / "c") == inner / ".imgclf"
    # A .imgclf file (not a folder) is not a home
    lone = tmp_path.parent / f"{tmp_path.name}-lone"
    lone.mkdir()
    (lone / ".imgclf").write_text("")
    if any((folder / ".imgclf").is_dir() for folder in lone.parents):
        pytest.skip("a folder above the test's tmp dir holds .imgclf")
    assert imgclf_home(lone) == lone / ".imgclf"


def test_a_fresh_checkout_does_not_borrow_a_folder_above_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ~/.imgclf from an environment once started in the home folder, and a new clone
    monkeypatch.delenv(HOME_VARIABLE, raising=False)
    (tmp_path / ".imgclf").mkdir()
    clone = tmp_path / "src" / "imgclf"
    (clone / ".git").mkdir(parents=True)
    (clone / "photos").mkdir()
    # Then the clone and its subfolders share the clone's own home, before it exists too
    assert imgclf_home(clone) == clone / ".imgclf"
    assert imgclf_home(clone / "photos") == clone / ".imgclf"
    # And a .imgclf inside the clone, nearer than its root, is the nearest
    (clone / "photos" / ".imgclf").mkdir()
    assert imgclf_home(clone / "photos") == clone / "photos" / ".imgclf"


def test_the_variable_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".imgclf").mkdir()
    monkeypatch.setenv(HOME_VARIABLE, str(tmp_path / "elsewhere"))
    assert imgclf_home(tmp_path) == tmp_path / "elsewhere"
