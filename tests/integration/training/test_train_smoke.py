"""End to end on tiny data: train one epoch, export int8, pack, load with LiteRT, classify."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from classifier.artifact import ModelMetadata
from classifier.artifact_files import read_metadata, unpack_artifact
from classifier.contracts import ARTIFACT_PROBE_FILE
from classifier.imaging import ImageLimits, prepare_image
from classifier.model import LoadedModel, quantize
from classifier.verify import PROBE_IMAGES, check_artifact, read_probe
from training.datasets import emoji
from training.train import main
from training.train_config import TrainConfig
from training.workflow import run

pytestmark = pytest.mark.slow

REPORT_FILES = {
    "report/classification_report.txt",
    "report/confusion_matrix.png",
    "report/heldout_confusion_matrix.png",
    "report/learning_curves.png",
    "report/index.html",
}


def test_one_epoch_run_produces_a_gated_artifact_the_lambda_can_use(
    tiny_emoji: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    data_dir, summary = tiny_emoji
    progress: list[tuple[int, int, dict[str, float]]] = []
    config = TrainConfig(
        data_dir=data_dir,
        model_dir=tmp_path / "model",
        output_dir=tmp_path / "output",
        artifact_path=tmp_path / "output" / "model.tar.gz",
        dataset="emoji",
        epochs=1,
        image_size=48,
        min_int8_accuracy=0.0,
        max_drop_pp=100.0,
        version="smoke-1",
    )

    result = run(config, progress=lambda *event: progress.append(event))

    assert result.passed
    assert [(epoch, total) for epoch, total, _ in progress] == [(1, 1)]
    assert "loss" in progress[0][2] and "val_accuracy" in progress[0][2]

    # The artifact: the three contract files, the probe and the report, and nothing else.
    assert result.artifact_path is not None
    with tarfile.open(result.artifact_path) as archive:
        names = {member.name for member in archive.getmembers() if member.isfile()}
    assert names == {"model.tflite", "labels.json", "model.json", "probe.npz"} | REPORT_FILES
    # Unpacked as promotion unpacks it: with the probe
    unpacked = unpack_artifact(
        result.artifact_path.read_bytes(), tmp_path / "unpacked", (ARTIFACT_PROBE_FILE,)
    )
    metadata = read_metadata(unpacked)
    assert metadata == result.metadata
    # Every file but model.json is digested, and the probe is test images the model labelled
    assert set(metadata.files) == {"model.tflite", "labels.json", "probe.npz"}
    assert metadata.probe is not None and len(metadata.probe.labels) == PROBE_IMAGES
    assert read_probe(unpacked).shape == (PROBE_IMAGES, 48, 48, 3)
    # And the check promotion runs passes on what training wrote (training's gate ran it too)
    assert check_artifact(unpacked).version == "smoke-1"
    assert (metadata.version, metadata.architecture) == ("smoke-1", "cnn")
    assert (metadata.input.height, metadata.input.width) == (48, 48)
    assert metadata.labels == emoji.LABELS
    assert metadata.gate["passed"] is True and metadata.gate["reasons"] == []
    for key in ("min_int8_accuracy", "max_drop_pp"):
        assert key in metadata.gate
    metrics = metadata.metrics
    for key in ("float_accuracy", "int8_accuracy", "per_class", "heldout_glyph_accuracy"):
        assert key in metrics, key
    assert set(metrics["per_class"]) == set(emoji.LABELS)
    assert set(metrics["per_label"]) == {"test", "heldout"}
    assert metrics["int8_size_bytes"] <= 0.3 * metrics["float_size_bytes"]
    assert metrics["heldout_count"] == 2 * len(
        [label for label in emoji.LABELS if emoji.glyphs_for(label, "heldout")]
    )
    assert metadata.dataset["name"] == "emoji"
    assert metadata.dataset["fingerprint"] == summary["fingerprint"]
    assert metadata.dataset["counts"]["total"] == 60
    assert metadata.dataset["skipped_unreadable"] == 0
    assert json.loads((tmp_path / "model" / "labels.json").read_text()) == list(emoji.LABELS)
    assert list((tmp_path / "output" / "tensorboard").rglob("events.out.tfevents.*"))

    # Full-integer int8, whose input quantization is lossless for 0..255 pixel values.
    interpreter = Interpreter(model_path=str(unpacked / "model.tflite"))
    input_details = interpreter.get_input_details()[0]
    assert input_details["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    # The CNN trains with a softmax head and ships its logits, all of it on XNNPACK
    assert metadata.output.kind == "logits"
    assert LoadedModel.from_directory(unpacked).delegation().outside == ()
    pixels = np.arange(256, dtype=np.uint8)
    assert np.array_equal(quantize(pixels, input_details), pixels.astype(np.int16) - 128)

    # Classify a file as the Lambda does: bytes -> prepare_image -> LiteRT.
    image_file = next(data_dir.glob("dog/*.jpg"))
    model = LoadedModel.from_directory(unpacked)
    prepared = prepare_image(image_file.read_bytes(), model.spec, ImageLimits())
    predictions = model.predict(prepared.array, top_k=3)
    assert len(predictions) == 3
    assert {p.label for p in predictions} <= set(emoji.LABELS)
    assert 0.0 <= predictions[-1].confidence <= predictions[0].confidence <= 1.0


def test_a_bad_model_fails_its_gate_in_model_json_and_still_exits_zero(
    noise_images: Path, tmp_path: Path
) -> None:
    # A failed job would stop the state machine before its own gate state reads the verdict.
    code = main(
        [
            "--dataset", "folder", "--arch", "cnn", "--data-dir", str(noise_images),
            "--model-dir", str(tmp_path / "model"), "--output-dir", str(tmp_path / "output"),
            "--epochs", "1", "--image-size", "32", "--min-int8-accuracy", "0.9",
            "--version", "bad-1", "--verbose", "0",
        ]
    )  # fmt: skip

    assert code == 0
    metadata = ModelMetadata.from_dict(json.loads((tmp_path / "model" / "model.json").read_text()))
    assert metadata.gate["passed"] is False
    assert metadata.gate["min_int8_accuracy"] == 0.9
    assert any("below the minimum 90.00%" in reason for reason in metadata.gate["reasons"])
    assert metadata.labels == ("alpha", "beta", "gamma")
    assert "FAILED" in (tmp_path / "model" / "report" / "classification_report.txt").read_text()
    assert (tmp_path / "output" / "model.tar.gz").is_file()


def test_an_empty_folder_data_set_is_one_error_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["--dataset", "folder", "--data-dir", str(tmp_path / "empty")])

    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: data directory {tmp_path / 'empty'} is missing or empty"
    )
