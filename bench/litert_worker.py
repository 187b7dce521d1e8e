"""Run one int8 model on preprocessed images with whichever LiteRT this Python imports.

    python bench/litert_worker.py MODEL_DIR INPUTS.npy OUT.npz

Started by bench/litert_runtimes.py inside each runtime (the project's venv, a target
directory holding another ai-edge-litert, or an aarch64 Python under qemu), so it imports
only numpy and the function's own model wrapper: the outputs are what the Lambda computes.
Prints one JSON line: the LiteRT version and machine that actually ran.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from classifier.contracts import ARTIFACT_MODEL_FILE
from classifier.model import LoadedModel


def run(model_dir: Path, inputs: Path, out: Path) -> dict[str, object]:
    """Write the model's raw outputs, labels' top-1 and decided label ids for each image."""
    model = LoadedModel.from_directory(model_dir)
    images = np.load(inputs)
    raw = np.stack([model.raw(image) for image in images]).astype(np.float32)
    top1 = np.array([model.labels.index(model.classify(i).top_k[0].label) for i in images])
    decided = model.decider.label_ids(raw)
    # the output tensor's quantization step, to express differences in int8 steps
    details = Interpreter(model_path=str(model_dir / ARTIFACT_MODEL_FILE)).get_output_details()[0]
    scale = float(details["quantization"][0]) or 1.0
    np.savez(out, raw=raw, top1=top1, decided=decided, scale=np.float64(scale))
    return {
        "litert": importlib.metadata.version("ai-edge-litert"),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "images": len(images),
    }


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))))
