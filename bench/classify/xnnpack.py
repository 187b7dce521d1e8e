"""The CPU the figures come from, and what XNNPACK does on it: how many of each model's ops it
takes in the function's interpreter, and the same int8 model invoked with and without it."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from bench.costmodel.host_cpu import host_cpu
from classifier.contracts import ARTIFACT_MODEL_FILE
from classifier.model import LoadedModel

from .timing import medians

# What XNNPACK's int8 kernels use, per machine: without them it is several times slower.
CPU_FLAGS = {
    "x86_64": ("avx2", "avx512f", "avx512_vnni"),
    "aarch64": ("asimddp", "i8mm"),
}


def cpu_line() -> str:
    """`CPU: <lscpu model> (<machine>, <n> cores); avx2 yes, ...; LiteRT <v>; load average`."""
    model, flags = host_cpu()
    machine = platform.machine()
    present = ", ".join(
        f"{flag} {'yes' if flag in flags else 'no'}" for flag in CPU_FLAGS.get(machine, ())
    )
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"CPU: {model} ({machine}, {os.cpu_count()} cores); {present}; "
        f"LiteRT {importlib.metadata.version('ai-edge-litert')}; load average {load}"
    )


def interpreter(model_bytes: bytes, xnnpack: bool) -> Any:
    """A one-thread interpreter as the function makes it, or without LiteRT's default
    delegates (XNNPACK), ready to invoke on a zero image."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    made = Interpreter(
        model_content=model_bytes, num_threads=1, experimental_op_resolver_type=resolver
    )
    made.allocate_tensors()
    details = made.get_input_details()[0]
    made.set_tensor(details["index"], np.zeros(details["shape"], details["dtype"]))
    return made


def xnnpack_section(models: dict[str, Path], repeats: int) -> dict[str, float]:
    """Print, per model artifact, the ops XNNPACK took and invoke p50 with and without it
    (interleaved); return each model's with/without ratio."""
    print(
        f"\nXNNPACK: the function's interpreter (1 thread) against the same int8 model without "
        f"LiteRT's default delegates; invoke p50 over {repeats} interleaved rounds"
    )
    print(f"  {'model':<10} {'ops on XNNPACK':<26} {'with':>9} {'without':>10} {'ratio':>7}")
    ratios = {}
    for label, artifact in models.items():
        taken = LoadedModel.from_directory(artifact).delegation()
        model_bytes = (artifact / ARTIFACT_MODEL_FILE).read_bytes()
        on, off = interpreter(model_bytes, True), interpreter(model_bytes, False)
        p50 = medians({"with": on.invoke, "without": off.invoke}, repeats)
        ratios[label] = p50["without"] / p50["with"]
        outside = f" (not {', '.join(taken.outside)})" if taken.outside else ""
        print(
            f"  {label:<10} {f'{taken.delegated}/{taken.total}{outside}':<26} "
            f"{p50['with']:>7.2f}ms {p50['without']:>8.2f}ms {ratios[label]:>6.1f}x"
        )
    return ratios
