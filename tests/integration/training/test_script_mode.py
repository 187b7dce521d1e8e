"""SageMaker script mode: `python train.py` from a source dir holding training/ and classifier."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


def test_train_py_runs_as_a_script_with_sagemaker_channels(
    noise_images: Path, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "training", source / "training", ignore=ignore)
    shutil.copytree(
        REPO / "functions" / "classifier", source / "functions" / "classifier", ignore=ignore
    )
    model_dir = tmp_path / "opt-ml-model"
    output_dir = tmp_path / "opt-ml-output"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SM_", "PYTHON"))},
        "SM_CHANNEL_TRAIN": str(noise_images),
        "SM_MODEL_DIR": str(model_dir),
        "SM_OUTPUT_DATA_DIR": str(output_dir),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    hyperparameters = [
        "--dataset", "folder", "--arch", "cnn", "--epochs", "1", "--image_size", "32",
        "--min_int8_accuracy", "0", "--max_drop_pp", "100", "--version", "sm-1",
        "--model_dir", "s3://bucket/job/model",  # as SageMaker's TensorFlow estimator adds
    ]  # fmt: skip

    completed = subprocess.run(
        [sys.executable, "training/train.py", *hyperparameters],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert {p.name for p in model_dir.iterdir()} == {
        "model.tflite",
        "labels.json",
        "model.json",
        "probe.npz",
        "report",
    }
    assert json.loads((model_dir / "model.json").read_text())["version"] == "sm-1"
    assert not list(output_dir.rglob("model.tar.gz"))  # SageMaker packs SM_MODEL_DIR itself
    # The copies in the source dir were imported, not the repository's installed package.
    assert list((source / "training" / "__pycache__").glob("data.*.pyc"))
    assert list((source / "functions" / "classifier" / "__pycache__").glob("imaging.*.pyc"))
