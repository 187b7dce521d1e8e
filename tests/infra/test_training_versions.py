"""SageMaker and local training run the same TensorFlow minor and the same Keras.

A model trained in the cloud and one trained on a laptop go through the same export and the
same gate; a Keras or TensorFlow minor apart, they can differ in layer defaults, saved
weights and converter behaviour. The stack names the GPU container by tag
(infra/constructs/training_job.py), local training pins tensorflow-cpu
(training/requirements-cpu.txt), and Keras is pinned once, in training/requirements.txt,
which the container installs at job start as the source dir's requirements.
"""

from __future__ import annotations

import re
from pathlib import Path

import keras
import tensorflow as tf

from infra.constructs.training_job import TRAINING_IMAGE_TAG

TRAINING = Path(__file__).resolve().parents[2] / "training"
REQUIREMENT_FILES = ("requirements.txt", "requirements-cpu.txt")


def _pins(package: str) -> list[tuple[str, str]]:
    """(file, version) for every `package==version` line of the training requirements."""
    found = []
    for name in REQUIREMENT_FILES:
        for line in (TRAINING / name).read_text().splitlines():
            match = re.match(rf"^{re.escape(package)}==([\w.]+)", line.strip())
            if match:
                found.append((name, match.group(1)))
    return found


def _minor(version: str) -> str:
    major, minor, *_ = version.split(".")
    return f"{major}.{minor}"


def test_the_sagemaker_image_runs_the_tensorflow_minor_local_training_pins() -> None:
    # Given the container tag (2.21.0-gpu-py312) and the local pin (tensorflow-cpu==2.21.0)
    image = re.match(r"^(\d+\.\d+)\.\d+-gpu-py\d+", TRAINING_IMAGE_TAG)
    assert image, f"{TRAINING_IMAGE_TAG!r} is not a <version>-gpu-py<NN> DLC tag"
    (pin,) = _pins("tensorflow-cpu")

    # Then both name the same TensorFlow major.minor
    assert pin[0] == "requirements-cpu.txt"  # the container brings its own GPU build
    assert _minor(pin[1]) == image.group(1)


def test_keras_is_pinned_once_where_both_sides_install_it() -> None:
    # Then exactly one pin, in the file SageMaker installs too (not requirements-cpu.txt)
    assert [name for name, _ in _pins("keras")] == ["requirements.txt"]


def test_the_installed_tensorflow_and_keras_are_the_pinned_ones() -> None:
    ((_, keras_pin),) = _pins("keras")
    ((_, tensorflow_pin),) = _pins("tensorflow-cpu")

    assert keras.__version__ == keras_pin
    assert tf.__version__ == tensorflow_pin
