"""LiteRT parity: the arm64 Lambda's LiteRT gives the gate's top-1 on the same inputs.

The gate evaluates with the x86_64 pin of training/requirements.txt, the arm64 Lambda runs
the aarch64 pin of functions/classifier/requirements.txt. The version axis runs here on
x86_64 (the Lambda's aarch64 version as an x86_64 wheel, cached outside git, ~11 MB); the
architecture axis runs under qemu once `make litert-parity` has provisioned it.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.fixtures.bench import load_bench

IMAGES_SEED = 2  # the tiny model's own test split (tests/fixtures/tiny_model.py)


def load_parity() -> ModuleType:
    return load_bench("litert_parity")


parity = load_parity()
runtimes = parity.runtimes


@pytest.fixture(scope="module")
def tiny_inputs(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 images of the tiny model's test split as one uint8 .npy: identical tensors for
    every runtime."""
    import tiny_model  # on sys.path through the tiny_model_dir fixture

    images, _ = tiny_model.colour_images(200, seed=IMAGES_SEED)
    path = tmp_path_factory.mktemp("parity") / "inputs.npy"
    np.save(path, np.rint(images).astype(np.uint8))
    return path


def outputs(raw: list[list[float]], top1: list[int], scale: float = 0.5) -> Any:
    return runtimes.Outputs(
        litert="x",
        machine="y",
        python="3",
        raw=np.array(raw, np.float32),
        top1=np.array(top1),
        decided=np.array(top1),
        scale=scale,
        seconds=0.0,
    )


def test_compare_counts_top1_disagreements_and_output_steps() -> None:
    # Given two runtimes that differ by two int8 steps on one image and on one top-1
    reference = outputs([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], [0, 1, 0])
    other = outputs([[1.0, 0.0], [0.0, 1.0], [0.5, 1.5]], [0, 1, 1])
    # When they are compared
    agreement = parity.compare(reference, other)
    # Then the disagreement and the difference are both counted
    assert agreement == parity.Agreement(
        images=3, top1=2, decided=2, rows_differing=1, max_abs=1.0, max_steps=2
    )


def test_pins_are_read_for_the_asked_machine_not_this_host(tmp_path: Path) -> None:
    # Given a requirements file that pins LiteRT per machine, as the function's does
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "# comment\n"
        'ai-edge-litert==2.3.0; platform_machine == "x86_64"  # why\n'
        'ai-edge-litert==1.4.0; platform_machine == "aarch64"\n'
        "numpy==2.4.6\n"
    )
    # Then each machine gets its own pin, and unmarked lines always
    assert runtimes.pinned(requirements, "aarch64") == ["ai-edge-litert==1.4.0", "numpy==2.4.6"]
    assert runtimes.litert_pin(requirements, "x86_64") == "2.3.0"


def test_the_gate_and_the_function_pin_the_same_litert_on_each_machine() -> None:
    # the gate's evaluation must run what the Lambda of the same architecture runs
    for machine in ("x86_64", "aarch64"):
        assert runtimes.litert_pin(runtimes.GATE_REQUIREMENTS, machine) == runtimes.litert_pin(
            runtimes.FUNCTION_REQUIREMENTS, machine
        )


def test_the_lambda_arm64_litert_version_gives_the_gate_top1_on_x86_64(
    tiny_model_dir: Path, tiny_inputs: Path, tmp_path: Path
) -> None:
    # Given the gate's LiteRT (this venv) and the arm64 Lambda's version as an x86_64 wheel
    gate = runtimes.host_runtime()
    lambda_litert = runtimes.litert_pin(runtimes.FUNCTION_REQUIREMENTS, "aarch64")
    other = runtimes.wheel_runtime(lambda_litert, runtimes.cache_root())
    # When both run the function's model wrapper on the same tensors
    reference = gate.run(tiny_model_dir, tiny_inputs, tmp_path / "gate.npz")
    candidate = other.run(tiny_model_dir, tiny_inputs, tmp_path / "lambda.npz")
    # Then each ran the version it names, and every top-1 and decided label is the same
    assert (reference.litert, candidate.litert) == (
        runtimes.litert_pin(runtimes.GATE_REQUIREMENTS, "x86_64"),
        lambda_litert,
    )
    agreement = parity.compare(reference, candidate)
    assert agreement.top1 == agreement.decided == agreement.images == 200


def emulated_or_skip() -> Any:
    cache = runtimes.cache_root()
    if not runtimes.provisioned(cache):
        pytest.skip(
            "the aarch64 runtime is not provisioned: `make litert-parity` installs "
            "qemu-user-static and gcc-aarch64-linux-gnu and caches a Debian arm64 Python "
            "with the function's wheels"
        )
    return runtimes.emulated_runtime(cache)


def test_the_lambda_arm64_runtime_gives_the_gate_top1_under_emulation(
    tiny_model_dir: Path, tiny_inputs: Path, tmp_path: Path
) -> None:
    # Given the function's aarch64 requirements on Debian's aarch64 Python under qemu
    emulated = emulated_or_skip()
    # When it and the gate's runtime run the same tensors
    reference = runtimes.host_runtime().run(tiny_model_dir, tiny_inputs, tmp_path / "gate.npz")
    candidate = emulated.run(tiny_model_dir, tiny_inputs, tmp_path / "arm64.npz")
    # Then it ran on aarch64 and every top-1 and decided label is the gate's
    assert candidate.machine == "aarch64"
    agreement = parity.compare(reference, candidate)
    assert agreement.top1 == agreement.decided == agreement.images == 200


def test_the_function_decodes_the_same_pixels_on_aarch64(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    # Given JPEGs (DCT-scaled decode) and PNGs (ISA-L inflate, the native unfilter) of photo
    # size; decode() fails unless the cross-built aarch64 unfilter loaded
    emulated = emulated_or_skip()
    rng = np.random.default_rng(5)
    files: list[Path] = []
    for number in range(4):
        gradient = np.linspace(0, 255, 640, dtype=np.float32)[None, :, None]
        pixels = np.clip(gradient + rng.normal(0, 40, (480, 640, 3)), 0, 255).astype(np.uint8)
        image = Image.fromarray(pixels)
        image.save(tmp_path / f"photo-{number}.jpg", quality=90)
        image.save(tmp_path / f"photo-{number}.png")
        files += [tmp_path / f"photo-{number}.jpg", tmp_path / f"photo-{number}.png"]
    # When the function's preprocessing runs here and on the emulated aarch64 runtime
    parity.preprocess(files, tiny_model_dir, tmp_path / "host.npy")
    decoded = emulated.decode(tiny_model_dir, files, tmp_path / "arm64.npy")
    # Then every pixel of every model input is the same
    np.testing.assert_array_equal(decoded, np.load(tmp_path / "host.npy"))
