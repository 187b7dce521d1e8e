"""Benchmark the function's per-image path against a naive baseline measured in the same run.

    .venv/bin/python bench/classify_bench.py [--repeats 40]
        [--colours-only | --generic-only | --png-only]

Per-image path: bytes -> classifier.imaging.prepare_image (JPEG draft scaling, libspng with
ISA-L inflate for PNG) -> LiteRT int8 -> top-k, on one thread. Baseline: full Pillow decode ->
resize -> Keras `predict` on the same float model. Models: EfficientNet-Lite0 at 224 px
(ImageNet weights when the weights package is installed, a new 10-class head, int8 through
training.export) and MobileNetV2 (alpha 1.0, random weights: latency does not depend on
them) at 224 and 128 px. The first lines name the CPU (lscpu's model; AVX2, AVX-512F and
AVX-512 VNNI, which XNNPACK's int8 kernels use) and the LiteRT version. XNNPACK: per model,
how many of its ops XNNPACK takes in the function's interpreter, and invoke p50 with and
without it (LiteRT's default delegates off), interleaved. Then where a 1 MP PNG's time
goes, stage by stage, and what other inflaters, decoders and resizes buy, each as a ratio
against the current path in the same run. Optional decoders are measured when importable, e.g. from
`pip install --target .imgclf/bench-extras --no-deps zlib-ng deflate imagecodecs` and
PYTHONPATH=.imgclf/bench-extras. Also: cold start of a fresh process (import, load, classify
one image) with LiteRT vs with TensorFlow, and the installed size of the runtime requirements.
Colours: the dominant-colour step alone (thumbnail from the model input + k-means in Lab +
CIEDE2000 naming) and the classify p50 with and without it, interleaved in the same run
(`--colours-only` runs just that, on Lite0). Generic labels: what the hierarchy's sums, the
labels and the quality figures add to the decode-free classify step of Lite0 int8 with
ImageNet's logits, with and without, interleaved (bench/generic_cost.py; `--generic-only`).
`--png-only`: Lite0's 1 MP PNG row, its XNNPACK line and the PNG section. The code is the
package bench/classify/. Prints figures only; targets are shown beside them, never asserted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions")]

from bench.classify.driver import main  # noqa: E402

if __name__ == "__main__":
    main(description=__doc__.splitlines()[0])
