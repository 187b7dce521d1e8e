"""XNNPACK runs every op of each model kind the project ships.

LiteRT's own int8 kernels are several times slower than XNNPACK's (EfficientNet-Lite0: 12.9 ms
against 2.3 ms an image on one thread, bench/classify_bench.py), so an op that XNNPACK turns
down costs the function its latency without failing anything else. Each kind is built here
with training's own builders and int8 export, calibrated on real photos, and cached in
.imgclf/test-cache by the hash of that code and the converter's versions (about a minute to
build, seconds after):

- the tests' tiny colour CNN (the session fixture);
- the CNN that generated data sets train (`training.networks`, arch `cnn`);
- MobileNetV2 transfer (random weights: the same ops);
- EfficientNet-Lite0's ImageNet logits: the day-0 (grouped logits) and generic (ImageNet
  logits) models' network;
- the Lite0 mixture: ImageNet's logits and a trained head's (labels ImageNet can name);
- the Lite0 transfer head alone (labels it cannot name).

Every op of every kind runs on XNNPACK: none is left to LiteRT's kernels. XNNPACK has no int8
SOFTMAX (its delegate takes float softmax only), so a softmax head is exported as its logits
(`training.export.serving_network`, model.json `output` kind `logits`) and the function takes
the softmax in float64. Checked with the gate's LiteRT (this venv), the arm64 Lambda's LiteRT
version (its x86_64 wheel), and the arm64 runtime under qemu when `make litert-parity` has
provisioned it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from classifier.delegation import Delegation, delegation
from classifier.model import LoadedModel
from tests.fixtures.bench import load_bench
from tests.fixtures.cache_entries import built_once

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
CACHE = REPO / ".imgclf" / "test-cache"
LABELS = 10
CALIBRATION_IMAGES = 8
SHIPPED_KINDS = (
    "tiny-colour-cnn",
    "cnn",
    "mobilenetv2",
    "lite0-imagenet-logits",
    "lite0-mixture",
    "lite0-transfer-head",
)
# What decides the models' ops (under training/): the networks' code, the int8 export (which
# cuts a softmax head to its logits) and the converter
GRAPH_SOURCES = ("networks.py", "export.py", "mixture.py", "transfer.py", "backbones/*.py")
CONVERTER_PACKAGES = ("tensorflow-cpu", "tensorflow", "keras")

runtimes = load_bench("litert_runtimes")


def build_kinds(target: Path) -> None:
    """Each built kind's int8 model as target/<kind>.tflite (TensorFlow, tens of seconds)."""
    import keras

    from classifier.imaging import InputSpec
    from training import export, mixture, transfer
    from training.backbones import efficientnet_lite as lite
    from training.data import list_class_files, load_images
    from training.datasets import photos
    from training.networks import make_model

    def photos_at(size: int) -> np.ndarray:
        index = list_class_files(photos.train_dir())
        return load_images(index, InputSpec(size, size)).images[:CALIBRATION_IMAGES]

    keras.utils.set_random_seed(0)
    lite_shape = (lite.IMAGE_SIZE, lite.IMAGE_SIZE, 3)
    tuned = lite.make_classifier(lite_shape, LABELS)
    networks: dict[str, tuple[Any, int]] = {
        "cnn": (make_model((64, 64, 3), LABELS), 64),
        "mobilenetv2": (make_model((224, 224, 3), LABELS, arch="mobilenetv2"), 224),
        "lite0-imagenet-logits": (lite.imagenet_classifier(lite.IMAGE_SIZE), lite.IMAGE_SIZE),
        "lite0-mixture": (
            mixture.mixture_network(tuned, lite.IMAGE_SIZE, transfer.DEFAULT_CUT_BLOCK),
            lite.IMAGE_SIZE,
        ),
        "lite0-transfer-head": (tuned, lite.IMAGE_SIZE),
    }
    for kind, (network, size) in networks.items():
        # As training exports it: a softmax head cut to its logits, other networks as they are
        served, _ = export.serving_network(network)
        (target / f"{kind}.tflite").write_bytes(export.to_int8_tflite(served, photos_at(size)))


def installed(distribution: str) -> str:
    try:
        return f"{distribution} {importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return ""


def cache_key() -> str:
    """Changes with the code that builds and exports the networks (training's and
    `build_kinds`) and with TensorFlow's and Keras' versions."""
    digest = hashlib.sha256(" ".join(map(installed, CONVERTER_PACKAGES)).encode())
    training = REPO / "training"
    for path in sorted(p for pattern in GRAPH_SOURCES for p in training.glob(pattern)):
        digest.update(path.relative_to(training).as_posix().encode() + path.read_bytes())
    digest.update(inspect.getsource(build_kinds).encode())
    return digest.hexdigest()[:12]


@pytest.fixture(scope="module")
def shipped_models(tiny_model_dir: Path) -> dict[str, Path]:
    """kind -> its int8 .tflite file."""
    built = built_once(CACHE / f"xnnpack-kinds-{cache_key()}", build_kinds)
    models = {kind: built / f"{kind}.tflite" for kind in SHIPPED_KINDS if kind != "tiny-colour-cnn"}
    return {"tiny-colour-cnn": tiny_model_dir / "model.tflite", **models}


def function_interpreter(model: Path) -> Any:
    """An interpreter made as classifier.model.LoadedModel makes its own."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model.read_bytes(), num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


def test_every_op_of_each_shipped_model_runs_on_xnnpack(shipped_models: dict[str, Path]) -> None:
    # Given each shipped kind, in the function's interpreter with the gate's LiteRT
    assert set(shipped_models) == set(SHIPPED_KINDS)
    for kind, model in shipped_models.items():
        interpreter = function_interpreter(model)
        # When its execution plan is read
        taken = delegation(interpreter)
        # Then XNNPACK runs every op, and the model has no SOFTMAX at all
        assert taken == Delegation(taken.total, taken.total, ()), kind
        assert taken.total >= 3, kind  # the model's ops were found at all
        ops = [op["op_name"] for op in interpreter._get_ops_details()]
        assert "SOFTMAX" not in ops, kind


def test_the_functions_own_interpreter_delegates_as_the_checks_here_assume(
    tiny_model_dir: Path,
) -> None:
    # Given the function's model wrapper, with the interpreter options the Lambda runs
    model = LoadedModel.from_directory(tiny_model_dir)
    # Then XNNPACK takes the same ops there as in the interpreter these checks make
    checked = delegation(function_interpreter(tiny_model_dir / "model.tflite"))
    assert model.delegation() == checked == Delegation(3, 3, ())


def assert_all_delegated(runtime: Any, shipped_models: dict[str, Path]) -> None:
    found = runtime.delegation(list(shipped_models.values()))
    for kind, model in shipped_models.items():
        delegated, total, outside = found[model]
        assert (delegated, list(outside)) == (total, []), f"{kind} on LiteRT {runtime.name}"


def test_the_lambda_arm64_litert_version_delegates_the_same_ops(
    shipped_models: dict[str, Path],
) -> None:
    # Given the arm64 Lambda's LiteRT version (its x86_64 wheel, cached outside git)
    lambda_litert = runtimes.litert_pin(runtimes.FUNCTION_REQUIREMENTS, "aarch64")
    runtime = runtimes.wheel_runtime(lambda_litert, runtimes.cache_root())
    # Then XNNPACK takes every op there too
    assert_all_delegated(runtime, shipped_models)


def test_the_lambda_arm64_runtime_delegates_the_same_ops_under_emulation(
    shipped_models: dict[str, Path],
) -> None:
    cache = runtimes.cache_root()
    if not runtimes.provisioned(cache):
        pytest.skip("the aarch64 runtime is not provisioned (make litert-parity)")
    assert_all_delegated(runtimes.emulated_runtime(cache), shipped_models)


def test_an_op_xnnpack_turns_down_is_counted_outside(tmp_path: Path) -> None:
    # Given a float model whose middle op (CUMSUM) XNNPACK has no kernel for
    import tensorflow as tf

    class CumulativeSum(tf.Module):  # type: ignore[misc]
        @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])  # type: ignore[untyped-decorator]
        def __call__(self, x: Any) -> Any:
            weights = tf.ones((8, 8))
            return tf.matmul(tf.math.cumsum(tf.matmul(x, weights), axis=1), weights)

    module = CumulativeSum()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module
    )
    model = tmp_path / "cumsum.tflite"
    model.write_bytes(converter.convert())
    # When the function's interpreter delegates it, XNNPACK takes the two ops around it
    assert delegation(function_interpreter(model)) == Delegation(2, 3, ("CUMSUM",))
    # And without LiteRT's default delegates, nothing is delegated
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    plain = Interpreter(
        model_path=str(model),
        num_threads=1,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    plain.allocate_tensors()
    assert delegation(plain) == Delegation(0, 3, ("FULLY_CONNECTED", "CUMSUM", "FULLY_CONNECTED"))
