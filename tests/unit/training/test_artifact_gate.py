"""Training's own gate runs the artifact it wrote: one that cannot run fails the gate, in the
verdict and in model.json, whatever its accuracy."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from classifier.artifact import FileDigest
from training.data import LoadedImages
from training.gate import GateResult, artifact_gate, check_gate
from training.probe import probe_images


def passing_gate() -> GateResult:
    return check_gate(
        float_accuracy=0.98,
        int8_accuracy=0.975,
        min_int8_accuracy=0.9,
        max_drop_pp=1.0,
        test_count=100,
    )


def test_a_sound_artifact_keeps_its_passing_gate_and_model_json(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    # Given a sound artifact
    candidate = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    before = (candidate / "model.json").read_text()
    # When training's gate runs it
    gate = artifact_gate(candidate, passing_gate())
    # Then the verdict stands and model.json is left as written
    assert gate == passing_gate()
    assert (candidate / "model.json").read_text() == before


def test_random_model_bytes_with_a_matching_digest_fail_the_gate_with_one_line(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    # Given an artifact whose model.tflite is noise, its digest rewritten to match
    candidate = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    noise = os.urandom(4096)
    (candidate / "model.tflite").write_bytes(noise)
    data = json.loads((candidate / "model.json").read_text())
    data["files"]["model.tflite"] = FileDigest.of(noise).to_dict()
    (candidate / "model.json").write_text(json.dumps(data))
    # When training's gate runs it, with accuracy that passed
    gate = artifact_gate(candidate, passing_gate())
    # Then the gate fails with check_artifact's one line, after the accuracy figures
    assert not gate.passed
    assert len(gate.reasons) == 1 and "\n" not in gate.reasons[0]
    assert gate.reasons[0].startswith(f"model {data['version']} cannot run: ")
    assert gate.int8_accuracy == passing_gate().int8_accuracy
    # And model.json says so, its digests and probe as written
    written = json.loads((candidate / "model.json").read_text())
    assert written["gate"] == gate.to_dict()
    assert (written["files"], written["probe"]) == (data["files"], data["probe"])


def test_the_probe_takes_one_image_of_each_class_in_turn_from_the_first_pool_with_any() -> None:
    # Given an empty test split and a validation split of classes 2, 2, 0, 1, 0
    images = np.arange(5, dtype=np.uint8).reshape(5, 1, 1, 1).repeat(3, axis=3)
    empty = LoadedImages(images[:0], np.zeros(0, np.int64), ())
    validation = LoadedImages(images, np.array([2, 2, 0, 1, 0]), ())
    # When the probe is chosen
    probe = probe_images(empty, None, validation, count=4)
    # Then it spans the classes before taking a second of any, in the split's order
    assert probe[:, 0, 0, 0].tolist() == [0, 2, 3, 1]
    assert probe.dtype == np.uint8
    # And with no images anywhere, there is no probe
    assert len(probe_images(empty, images[:0])) == 0
