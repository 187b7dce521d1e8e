"""Run one int8 model on preprocessed images with whichever LiteRT this Python imports.

    python bench/litert_worker.py MODEL_DIR INPUTS.npy OUT.npz
    python bench/litert_worker.py --decode MODEL_DIR FILES.txt OUT.npy
    python bench/litert_worker.py --delegation MODEL.tflite [MODEL.tflite ...]

Started by bench/litert_runtimes.py inside each runtime (the project's venv, a target
directory holding another ai-edge-litert, or an aarch64 Python under qemu), so it imports
only numpy and the function's own code: the outputs are what the Lambda computes. The
first form prints one JSON line: the LiteRT version and machine that actually ran. The
second preprocesses image files (one path a line) for the model with this runtime's
decoders, as `preprocess` does for the bench on the host, and says which PNG unfilter ran.
The third prints, per model, how many of its ops this runtime's XNNPACK takes, in an
interpreter made as the function makes its own (one thread, LiteRT's default delegates).
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from classifier.artifact_files import read_metadata
from classifier.contracts import ARTIFACT_MODEL_FILE
from classifier.delegation import delegation
from classifier.imaging import ImageLimits, RejectedImageError, prepare_image
from classifier.model import Decider, LoadedModel


def run(model_dir: Path, inputs: Path, out: Path) -> dict[str, object]:
    """Write the model's raw outputs, labels' top-1 and decided label ids for each image."""
    model = LoadedModel.from_directory(model_dir)
    images = np.load(inputs)
    raw = np.stack([model.raw(image) for image in images]).astype(np.float32)
    if model.decider.generic_only:
        top1, decided = generic_ids(model.decider, raw)
    else:
        top1 = np.array([model.labels.index(model.classify(i).top_k[0].label) for i in images])
        decided = model.decider.label_ids(raw)
    # the output tensor's quantization step, to express differences in int8 steps
    details = Interpreter(model_path=str(model_dir / ARTIFACT_MODEL_FILE)).get_output_details()
    scale = float(details[0]["quantization"][0]) or 1.0
    np.savez(out, raw=raw, top1=top1, decided=decided, scale=np.float64(scale))
    return {
        "litert": importlib.metadata.version("ai-edge-litert"),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "images": len(images),
    }


def generic_ids(decider: Decider, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The generic labeller has no labels of its own: its top-1 is ImageNet's top class, and
    its decided id the primary generic label's index among the hierarchy's labelled nodes
    (-1 when no label reaches the minimum, the function's `unknown`)."""
    hierarchy = decider.hierarchy
    assert hierarchy is not None
    names = [node.name for node in hierarchy.labelled]
    top1 = np.argmax(raw[:, : len(hierarchy.class_ids)], axis=-1)
    decided = []
    for row in raw:
        primary = hierarchy.primary(decider.generic_labels(row))
        decided.append(-1 if primary is None else names.index(primary.name))
    return top1, np.array(decided, np.int64)


def preprocess(files: Sequence[Path], model_dir: Path, out: Path) -> int:
    """The function's preprocessing of each file for this model, saved as one .npy
    (rejected files are left out); returns how many images were kept."""
    spec = read_metadata(model_dir).input
    arrays = []
    for path in files:
        try:
            arrays.append(prepare_image(path.read_bytes(), spec, ImageLimits()).array)
        except RejectedImageError:
            continue
    np.save(out, np.stack(arrays))
    return len(arrays)


def delegations(models: Sequence[Path]) -> dict[str, object]:
    """Per model file: [ops delegated, ops in all, names of the ops left outside]."""
    found: dict[str, object] = {}
    for path in models:
        interpreter = Interpreter(model_content=path.read_bytes(), num_threads=1)
        interpreter.allocate_tensors()
        taken = delegation(interpreter)
        found[str(path)] = [taken.delegated, taken.total, list(taken.outside)]
    return {
        "litert": importlib.metadata.version("ai-edge-litert"),
        "machine": platform.machine(),
        "delegation": found,
    }


if __name__ == "__main__":
    if sys.argv[1] == "--delegation":
        print(json.dumps(delegations([Path(p) for p in sys.argv[2:]])))
    elif sys.argv[1] == "--decode":
        listing = Path(sys.argv[3]).read_text().splitlines()
        kept = preprocess([Path(p) for p in listing], Path(sys.argv[2]), Path(sys.argv[4]))
        from classifier import png_unfilter

        decoder = "native" if png_unfilter.available() else "libspng"
        print(json.dumps({"machine": platform.machine(), "images": kept, "png": decoder}))
    else:
        print(json.dumps(run(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))))
