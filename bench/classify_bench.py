"""Benchmark the function's per-image path against a naive baseline measured in the same run.

    .venv/bin/python bench/classify_bench.py [--repeats 40]

Per-image path: bytes -> classifier.imaging.prepare_image (JPEG draft scaling) -> LiteRT int8
-> top-k, on one thread. Baseline: full Pillow decode -> resize -> Keras `predict` on the same
float model. Models: MobileNetV2 (alpha 1.0, random weights: latency does not depend on them)
at 224 and 128 px. Also: cold start of a fresh process (import, load, classify one image)
with LiteRT vs with TensorFlow, and the installed size of the runtime requirements.
Prints figures only; targets are shown beside them, never asserted.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions")]

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

from classifier.artifact import ModelMetadata, write_artifact_dir  # noqa: E402
from classifier.imaging import ImageLimits, InputSpec, prepare_image  # noqa: E402
from classifier.model import LoadedModel  # noqa: E402

LIMITS = ImageLimits()
TARGETS = {
    "p50 <= 2 MP": "<= 15 ms",
    "p50 12 MP JPEG": "<= 40 ms",
    "speed-up": ">= 10x",
    "cold start": "<= 1 s",
    "install": "<= 200 MB",
}


def photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    """A synthetic 'photo': gradients, shapes, texture and blur, so codecs work realistically."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200, y / height * 180, (x + y) / (width + height) * 255], -1)
    image = Image.fromarray(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(width // 40, width // 6))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.ellipse((x0, y0, x0 + size, y0 + size), fill=colour)
    return image.filter(ImageFilter.GaussianBlur(1.5))


def inputs() -> dict[str, bytes]:
    def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **params)
        return buffer.getvalue()

    return {
        "12 MP JPEG (4000x3000)": encode(photo_like(4000, 3000), "JPEG", quality=90),
        "1080p JPEG (1920x1080)": encode(photo_like(1920, 1080, 1), "JPEG", quality=90),
        "1 MP PNG (1000x1000)": encode(photo_like(1000, 1000, 2), "PNG"),
    }


def build_models(directory: Path, size: int) -> tuple[Path, object]:
    """MobileNetV2 at `size` px: the int8 artifact for LiteRT and the float Keras model."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    inputs_ = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs_)
    base = keras.applications.MobileNetV2(
        input_shape=(size, size, 3), weights=None, include_top=False, pooling="avg"
    )
    outputs = keras.layers.Dense(10, activation="softmax")(base(x))
    model = keras.Model(inputs_, outputs)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    converter.representative_dataset = lambda: (
        [rng.uniform(0, 255, (1, size, size, 3)).astype(np.float32)] for _ in range(20)
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    metadata = ModelMetadata(
        version=f"bench-mnv2-{size}",
        input=InputSpec(size, size),
        labels=tuple(f"class{i}" for i in range(10)),
    )
    artifact = write_artifact_dir(directory / f"mnv2-{size}", converter.convert(), metadata)
    model.save(directory / f"mnv2-{size}.keras")
    return artifact, model


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def time_calls(call: object, repeats: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        call()  # type: ignore[operator]
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def naive_path(data: bytes, keras_model: object, size: int) -> None:
    """What a first version would do: decode everything, resize, Keras predict."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    array = np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), np.float32)
    keras_model.predict(array[None], verbose=0)  # type: ignore[attr-defined]


COLD_LITERT = """
import time, sys
started = time.perf_counter()
from pathlib import Path
from classifier.imaging import ImageLimits, prepare_image
from classifier.model import LoadedModel
model = LoadedModel.from_directory(Path(sys.argv[1]))
data = Path(sys.argv[2]).read_bytes()
model.predict(prepare_image(data, model.spec, ImageLimits()).array)
print((time.perf_counter() - started) * 1000)
"""

COLD_TENSORFLOW = """
import time, sys, os
started = time.perf_counter()
import io, numpy as np, keras
from PIL import Image
model = keras.models.load_model(sys.argv[1])
size = model.input_shape[1]
image = Image.open(io.BytesIO(open(sys.argv[2], "rb").read())).convert("RGB").resize((size, size))
model.predict(np.asarray(image, np.float32)[None], verbose=0)
print((time.perf_counter() - started) * 1000)
"""


def measure(
    size: int, model: LoadedModel, keras_model: object, images: dict[str, bytes], repeats: int
) -> list[float]:
    """Print p50/p95 of our path and the naive one for each input; return the speed-ups."""
    ratios = []
    for name, data in images.items():
        ours = time_calls(
            lambda data=data: model.predict(prepare_image(data, model.spec, LIMITS).array),
            repeats,
        )
        naive = time_calls(
            lambda data=data: naive_path(data, keras_model, size), max(5, repeats // 4)
        )
        (p50, p95), (n50, n95) = percentiles(ours), percentiles(naive)
        ratios.append(n50 / p50)
        print(
            f"MNv2-{size:<5} {name:<24} {p50:>8.1f}ms {p95:>5.1f}ms {n50:>8.1f}ms "
            f"{n95:>5.1f}ms {n50 / p50:>8.1f}x"
        )
    blank = np.zeros((size, size, 3), np.uint8)
    infer = time_calls(lambda: model.predict(blank), repeats)
    print(f"MNv2-{size:<5} {'(inference only)':<24} {percentiles(infer)[0]:>8.1f}ms")
    return ratios


def cold_start(python: str, script: str, *args: str, env: dict[str, str]) -> float:
    """Wall time of a fresh process: interpreter start, imports, load, one image."""
    started = time.perf_counter()
    run = subprocess.run([python, "-c", script, *args], capture_output=True, text=True, env=env)
    total = (time.perf_counter() - started) * 1000
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-1000:])
    return total


def runtime_python() -> tuple[str, float | None]:
    """The runtime-only venv the tests build (functions/classifier/requirements.txt only)."""
    sys.path.insert(0, str(REPO))
    from tests.integration.classifier import test_runtime_layer as layer

    venvs = sorted((REPO / ".imgclf" / "test-cache").glob("runtime-venv-*/bin/python"))
    if not venvs:
        return sys.executable, None
    python = venvs[-1]
    return str(python), layer.installed_mb(layer.site_packages(python))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    images = inputs()
    work = Path(tempfile.mkdtemp(prefix="imgclf-bench-"))
    print(
        f"imgclf per-image benchmark — {os.cpu_count()} cores, 1 inference thread, "
        f"{args.repeats} repeats\n"
    )
    print(
        f"{'model':<10} {'input':<24} {'LiteRT p50':>10} {'p95':>7} {'naive p50':>10} "
        f"{'p95':>7} {'speed-up':>9}"
    )
    ratios = []
    for size in (224, 128):
        artifact, keras_model = build_models(work, size)
        ratios += measure(
            size, LoadedModel.from_directory(artifact), keras_model, images, args.repeats
        )

    python, install_mb = runtime_python()
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO / "functions"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONNOUSERSITE": "1",
    }
    jpeg = work / "1080p.jpg"
    jpeg.write_bytes(images["1080p JPEG (1920x1080)"])
    cold_ours = [
        cold_start(python, COLD_LITERT, str(work / "mnv2-224"), str(jpeg), env=env)
        for _ in range(3)
    ]
    cold_tf = [
        cold_start(
            sys.executable, COLD_TENSORFLOW, str(work / "mnv2-224.keras"), str(jpeg), env=env
        )
        for _ in range(2)
    ]
    ours_ms, tf_ms = statistics.median(cold_ours), statistics.median(cold_tf)
    where = "" if install_mb is not None else "  [runtime venv missing: ran in the dev venv]"
    print(
        f"\ncold start (fresh process, import + load MNv2-224 + 1 image): "
        f"LiteRT {ours_ms:.0f} ms vs TensorFlow {tf_ms:.0f} ms ({tf_ms / ours_ms:.1f}x){where}"
    )
    if install_mb is not None:
        print(f"runtime install (requirements.txt, pruned): {install_mb:.0f} MB")
    print(
        f"median speed-up over the naive path: {statistics.median(ratios):.1f}x "
        f"(min {min(ratios):.1f}x)"
    )
    print("\ntargets: " + json.dumps(TARGETS))


if __name__ == "__main__":
    main()
