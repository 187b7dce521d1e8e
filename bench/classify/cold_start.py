"""Cold start of a fresh process (import, load, classify one image) with LiteRT against
TensorFlow, and the installed size of the function's runtime requirements."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

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


def cold_start_section(work: Path, jpeg: bytes) -> None:
    """Print the cold start of MNv2-224 (built into `work`) with each runtime, and the
    runtime install's size."""
    python, install_mb = runtime_python()
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO / "functions"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONNOUSERSITE": "1",
    }
    image = work / "1080p.jpg"
    image.write_bytes(jpeg)
    model, keras_file = str(work / "mnv2-224"), str(work / "mnv2-224.keras")
    ours = [cold_start(python, COLD_LITERT, model, str(image), env=env) for _ in range(3)]
    tf = [
        cold_start(sys.executable, COLD_TENSORFLOW, keras_file, str(image), env=env)
        for _ in range(2)
    ]
    ours_ms, tf_ms = statistics.median(ours), statistics.median(tf)
    where = "" if install_mb is not None else "  [runtime venv missing: ran in the dev venv]"
    print(
        f"\ncold start (fresh process, import + load MNv2-224 + 1 image): "
        f"LiteRT {ours_ms:.0f} ms vs TensorFlow {tf_ms:.0f} ms ({tf_ms / ours_ms:.1f}x){where}"
    )
    if install_mb is not None:
        print(f"runtime install (requirements.txt, pruned): {install_mb:.0f} MB")
