"""Spot interruption resumes where it stopped; MobileNetV2 trains in two phases from a file."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest

from training.fitting import TrainingError, resolve_weights
from training.train_config import TrainConfig
from training.workflow import run

pytestmark = pytest.mark.slow


class _Interrupted(Exception):
    """Stands in for a reclaimed spot instance."""


def test_an_interrupted_run_resumes_from_its_last_epoch(noise_images: Path, tmp_path: Path) -> None:
    def config(version: str) -> TrainConfig:
        return TrainConfig(
            data_dir=noise_images,
            model_dir=tmp_path / version / "model",
            output_dir=tmp_path / version / "output",
            checkpoint_dir=tmp_path / "checkpoints",  # /opt/ml/checkpoints survives a restart
            dataset="folder",
            arch="cnn",  # the from-scratch CNN resumes from its checkpoints
            epochs=3,
            image_size=32,
            min_int8_accuracy=0.0,
            max_drop_pp=100.0,
            version=version,
        )

    def stop_after_first_epoch(epoch: int, total: int, logs: dict[str, float]) -> None:
        if epoch == 1:
            raise _Interrupted

    with pytest.raises(_Interrupted):
        run(config("first-try"), progress=stop_after_first_epoch)
    epochs_seen: list[int] = []

    result = run(config("second-try"), progress=lambda epoch, *_: epochs_seen.append(epoch))

    assert epochs_seen == [2, 3]
    assert result.metadata.metrics["epochs_trained"] == 2  # this process trained two epochs
    assert not any((tmp_path / "checkpoints").iterdir())  # a finished run leaves no state


def test_mobilenetv2_fine_tunes_from_a_local_weights_file(
    noise_images: Path, tmp_path: Path
) -> None:
    weights = tmp_path / "mobilenet_v2_0.35_no_top.weights.h5"
    keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), include_top=False, weights=None, alpha=0.35
    ).save_weights(weights)
    epochs_seen: list[tuple[int, int]] = []

    result = run(
        TrainConfig(
            data_dir=noise_images,
            model_dir=tmp_path / "model",
            output_dir=tmp_path / "output",
            dataset="folder",
            arch="mobilenetv2",
            weights=str(weights),
            alpha=0.35,
            epochs=1,
            fine_tune_epochs=1,
            fine_tune_layers=10,
            image_size=32,
            min_int8_accuracy=0.0,
            max_drop_pp=100.0,
            version="mnv2",
        ),
        progress=lambda epoch, total, _: epochs_seen.append((epoch, total)),
    )

    assert epochs_seen == [(1, 2), (2, 2)]  # frozen base, then fine-tuning
    assert result.metadata.architecture == "mobilenetv2"
    assert result.metadata.output.kind == "logits"  # its softmax head, exported as logits
    assert result.metadata.metrics["hyperparameters"]["weights"] == str(weights)
    assert result.metadata.metrics["int8_size_bytes"] < result.metadata.metrics["float_size_bytes"]


def test_weights_are_imagenet_none_or_an_existing_file(tmp_path: Path) -> None:
    assert resolve_weights("imagenet", tmp_path) == "imagenet"
    assert resolve_weights("none", tmp_path) is None
    existing = tmp_path / "w.weights.h5"
    existing.write_bytes(b"")
    assert resolve_weights(str(existing), tmp_path) == str(existing)
    with pytest.raises(TrainingError, match="does not exist"):
        resolve_weights(str(tmp_path / "missing.h5"), tmp_path)
