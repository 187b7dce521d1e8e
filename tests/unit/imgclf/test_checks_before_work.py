"""`imgclf train` and `imgclf model day0` refuse what training or the build would refuse,
before any of that work starts."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from imgclf.errors import CliError
from imgclf.main import main
from imgclf.model_day0 import map_label_names, mapping_lines


def _folder(root: Path, labels: tuple[str, ...], count: int = 5) -> Path:
    for label in labels:
        (root / label).mkdir(parents=True)
        for n in range(count):
            Image.new("RGB", (8, 8), (n * 40, 0, 0)).save(root / label / f"{n}.png")
    return root


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IMGCLF_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("imgclf.trainer.resolve", lambda env: SimpleNamespace(is_local=True))

    def trained(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started")

    monkeypatch.setattr("imgclf.trainer.train_to_cache", trained)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--epochs", "0"], "epochs must be at least 1"),
        (["--image-size", "3"], "image_size must be at least 32"),
        (["--outside-dir", "/nonexistent"], "--outside-dir: no such folder: /nonexistent"),
        (["--extra-train-dir", "/nonexistent"], "--extra-train-dir: no such folder: /nonexistent"),
        (["--imagenet-mapping", "nope.json"], "--imagenet-mapping: no such file: nope.json"),
        (["--dataset", "digits"], "--dataset digits renders its own images"),
    ],
)
def test_bad_flags_are_one_line_before_training(
    no_training: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    data = _folder(tmp_path / "mine", ("tool", "tree"))
    capsys.readouterr()
    assert main(["train", "--data-dir", str(data), *flags]) == 1
    err = capsys.readouterr().err
    assert err.startswith("imgclf: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (("unknown", "tool"), "mine/unknown: a label cannot be 'unknown'"),
        (("Tree", "tree"), "mine/Tree and "),
    ],
)
def test_label_folders_a_model_cannot_have_are_refused_before_training(
    no_training: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    labels: tuple[str, ...],
    message: str,
) -> None:
    data = _folder(tmp_path / "mine", labels)
    capsys.readouterr()
    assert main(["train", "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    ("folders", "message"),
    [
        (("tool", "tree"), "--eval-dir: "),
        ((), "--eval-dir: "),
    ],
)
def test_day0_refuses_an_eval_dir_it_cannot_score_before_the_build(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    folders: tuple[str, ...],
    message: str,
) -> None:
    # Given labels tool and musical_instrument, and a folder with a tree (or no label folders)
    monkeypatch.setenv("IMGCLF_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("imgclf.model_day0.resolve", lambda env: SimpleNamespace(is_local=True))

    def built(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was built")

    monkeypatch.setattr("imgclf.model_day0.build_packed", built)
    eval_dir = _folder(tmp_path / "mine", folders)
    eval_dir.mkdir(exist_ok=True)
    capsys.readouterr()
    argv = ["model", "day0", "--labels", "tool,musical_instrument", "--eval-dir", str(eval_dir)]
    # When it is run, then it stops in one line, naming what is wrong
    assert main(argv) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith(f"imgclf: error: {message}") and len(err.strip().splitlines()) == 1
    assert "tree" in err if folders else "no label folders" in err, err
    # And the mapping it printed for review first has each line whole, piped as here
    expected = mapping_lines(map_label_names("tool,musical_instrument", None))
    assert captured.out.splitlines() == expected


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ("dog&co,cat", "'dog&co' cannot be stored as an S3 tag value"),
        ("unknown,cat", "'unknown' cannot be a label"),
        ("Unknown,cat", "'Unknown' cannot be a label"),
        ("!cat,dog", "reserved for the index"),
        ("dog,,cat", "has an empty name (two commas in a row?)"),  # it built dog and cat
    ],
)
def test_day0_refuses_a_name_no_model_may_have_before_mapping(names: str, message: str) -> None:
    # `dog&co` built, passed its gate and then every tag write was skipped; `unknown` with
    # an override mapped, built for a minute, then failed on model.json
    with pytest.raises(CliError, match="^--labels: ") as raised:
        map_label_names(names, None)
    assert message in str(raised.value) and "\n" not in str(raised.value)
