"""The GPU branch (MirroredStrategy + mixed precision) trains, exports int8 and gates on a CPU.

The physical CPU is split into two logical devices before TensorFlow initialises them, which
only a fresh process can do, and IMGCLF_FORCE_DISTRIBUTION=mirrored makes training take the
branch it takes on GPUs: building, compiling, fitting and loading weights in one scope.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from training.fitting import DISTRIBUTION_VARIABLE

REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow

TWO_LOGICAL_CPUS_THEN_MAIN = """
import sys
import tensorflow as tf

(cpu,) = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from training.train import main

sys.exit(main(sys.argv[1:]))
"""


def test_mirrored_mixed_precision_training_exports_int8_and_records_the_gate(
    tmp_path: Path,
) -> None:
    # Given the digits data set, small images and two epochs (mixed precision is emulated on
    # a CPU, at about 20 s an epoch: two reach 82-85% on the test split), on two logical CPUs
    model_dir = tmp_path / "model"
    arguments = [
        "--dataset", "digits", "--data-dir", str(tmp_path / "digits"),
        "--model-dir", str(model_dir), "--output-dir", str(tmp_path / "output"),
        "--epochs", "2", "--image-size", "32", "--representative-count", "50",
        "--min-int8-accuracy", "0", "--max-drop-pp", "100", "--version", "mirrored-1",
        "--verbose", "0",
    ]  # fmt: skip
    env = {**os.environ, DISTRIBUTION_VARIABLE: "mirrored", "TF_CPP_MIN_LOG_LEVEL": "3"}

    # When training runs the GPU branch in a fresh process
    completed = subprocess.run(
        [sys.executable, "-c", TWO_LOGICAL_CPUS_THEN_MAIN, *arguments],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    # Then it exits 0 having trained on both replicas with mixed precision
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "training on 2 logical CPUs with mixed precision" in completed.stderr
    # And model.json records the gate's verdict
    metadata = json.loads((model_dir / "model.json").read_text())
    assert metadata["version"] == "mirrored-1"
    assert metadata["gate"]["passed"] is True
    assert metadata["metrics"]["epochs_trained"] == 2
    # And it learned: well above chance (10%) in float and in int8, so the loss scaling of
    # mixed precision and the float32 copy the export takes both carry the trained weights
    assert metadata["metrics"]["float_accuracy"] > 0.5
    assert metadata["metrics"]["int8_accuracy"] > 0.5
    # And the exported model is full int8, from the float32 copy of the mixed-precision model
    interpreter = Interpreter(model_path=str(model_dir / "model.tflite"))
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
