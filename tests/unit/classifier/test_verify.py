"""Promotion's checks of an artifact: digests, a model that loads and fits its spec, and the
labels it gave its probe images at export."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from classifier.artifact import ArtifactError, FileDigest, ModelMetadata
from classifier.verify import check_artifact, read_probe


def copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "candidate"))


def edit_model_json(directory: Path, change: dict[str, object]) -> None:
    data = json.loads((directory / "model.json").read_text())
    data.update(change)
    (directory / "model.json").write_text(json.dumps(data))


def redigest(directory: Path, name: str) -> None:
    """Record a file's current digest, as a hand-edited or rebuilt model.json would."""
    data = json.loads((directory / "model.json").read_text())
    data["files"][name] = FileDigest.of((directory / name).read_bytes()).to_dict()
    (directory / "model.json").write_text(json.dumps(data))


def test_a_sound_artifact_passes_and_its_probe_is_what_the_model_said(
    tiny_model_dir: Path,
) -> None:
    model = check_artifact(tiny_model_dir)
    labels = json.loads((tiny_model_dir / "model.json").read_text())["probe"]["labels"]
    assert len(read_probe(tiny_model_dir)) == len(labels) == 4
    assert set(labels) <= set(model.labels)


def test_random_bytes_under_a_passing_model_json_are_refused(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    # Given a passing model's model.json with only the version changed, and 4 KB of noise
    candidate = copy(tiny_model_dir, tmp_path)
    edit_model_json(candidate, {"version": "broken-1"})
    (candidate / "model.tflite").write_bytes(os.urandom(4096))
    # Then the digest says so, before anything runs
    with pytest.raises(ArtifactError, match=r"^model.tflite does not match model.json"):
        check_artifact(candidate)
    # And with the digest made to match, the model cannot be loaded: one line
    redigest(candidate, "model.tflite")
    with pytest.raises(ArtifactError, match=r"^model broken-1 cannot run: "):
        check_artifact(candidate)


def test_a_model_whose_outputs_disagree_with_its_labels_is_refused(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    candidate = copy(tiny_model_dir, tmp_path)
    edit_model_json(candidate, {"labels": ["red", "green"]})
    (candidate / "labels.json").write_text(json.dumps(["red", "green"]))
    redigest(candidate, "labels.json")
    with pytest.raises(ArtifactError, match="cannot run: .*3 outputs but 2 labels"):
        check_artifact(candidate)


def test_a_model_json_whose_input_size_is_wrong_is_refused(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    candidate = copy(tiny_model_dir, tmp_path)
    data = json.loads((candidate / "model.json").read_text())
    edit_model_json(candidate, {"input": {**data["input"], "height": 64, "width": 64}})
    with pytest.raises(ArtifactError, match="takes input 1x32x32x3, but model.json says"):
        check_artifact(candidate)


def test_a_probe_answer_that_changed_is_refused_and_named(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    # Given labels swapped in model.json (a mismatched label file, say): the same outputs now
    # mean other labels
    candidate = copy(tiny_model_dir, tmp_path)
    data = json.loads((candidate / "model.json").read_text())
    swapped = [data["labels"][1], data["labels"][0], data["labels"][2]]
    edit_model_json(candidate, {"labels": swapped})
    (candidate / "labels.json").write_text(json.dumps(swapped))
    redigest(candidate, "labels.json")
    first = data["probe"]["labels"]
    assert set(first) & set(swapped[:2])  # the probe has a red or a green image
    with pytest.raises(ArtifactError, match=r"labels probe image \d of 4 '\w+', but it was"):
        check_artifact(candidate)


def test_an_artifact_without_digests_is_refused_unless_legacy_is_allowed(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    candidate = copy(tiny_model_dir, tmp_path)
    data = json.loads((candidate / "model.json").read_text())
    del data["files"], data["probe"]
    (candidate / "model.json").write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="records no file digests"):
        check_artifact(candidate)
    assert check_artifact(candidate, allow_legacy=True).version == data["version"]


def test_an_artifact_with_digests_but_no_probe_is_refused(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    candidate = copy(tiny_model_dir, tmp_path)
    data = json.loads((candidate / "model.json").read_text())
    del data["probe"], data["files"]["probe.npz"]
    (candidate / "model.json").write_text(json.dumps(data))
    (candidate / "probe.npz").unlink()
    with pytest.raises(ArtifactError, match="has no probe images"):
        check_artifact(candidate)


@pytest.mark.parametrize("name", ["model.tflite", "labels.json", "probe.npz"])
def test_a_file_the_artifact_holds_but_model_json_does_not_digest_is_refused(
    tiny_model_dir: Path, tmp_path: Path, name: str
) -> None:
    # Promotion passed a model.json whose `files` left out model.tflite; the function, which
    # requires them, then refused to load it and kept serving the model before
    candidate = copy(tiny_model_dir, tmp_path)
    data = json.loads((candidate / "model.json").read_text())
    del data["files"][name]
    (candidate / "model.json").write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match=f"^{name} is in the artifact but model.json has no "):
        check_artifact(candidate)


@pytest.mark.parametrize(
    ("labels", "why"),
    [
        (["fruit", "Unknown", "veg"], "'Unknown' cannot be a label: 'unknown' is what"),
        (["fruit", "unknown ", "veg"], "'unknown ' cannot be a label"),
        (["fruit", "fruit", "veg"], "labels 'fruit', 'fruit' are one label, named twice$"),
        (["Fruit", "fruit_", "veg"], "are one label, named twice"),
        ("ftv", "^model.json is malformed: labels must be a list of names, got 'ftv'$"),
    ],
)
def test_labels_no_query_could_tell_apart_are_refused(labels: object, why: str) -> None:
    # Each was promoted: an item labelled 'Unknown' was found by no query, and two 'fruit'
    # outputs split one label's probability (a grape became 'vegetable')
    with pytest.raises(ArtifactError, match=why):
        ModelMetadata.from_dict(
            {"version": "v1", "input": {"height": 8, "width": 8}, "labels": labels}
        )


def test_a_missing_probe_is_named_without_the_unpacking_folder(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    candidate = copy(tiny_model_dir, tmp_path)
    (candidate / "probe.npz").unlink()
    with pytest.raises(ArtifactError, match="^the artifact has no probe.npz$"):
        read_probe(candidate)


def test_a_probe_that_is_no_zip_file_is_one_line_naming_it(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    candidate = copy(tiny_model_dir, tmp_path)
    (candidate / "probe.npz").write_bytes(b"PK\x03\x04 but no zip")
    with pytest.raises(ArtifactError, match=r"^cannot read probe.npz: "):
        read_probe(candidate)
