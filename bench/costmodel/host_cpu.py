"""The machine a bench measures on: lscpu's model and the CPU flags int8 inference uses.

Read once per run by bench/cost.py and bench/classify_bench.py, which print it beside their
figures: XNNPACK's int8 speed differs several times between CPUs with and without them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

CPU_FLAGS = ("avx2", "avx512_vnni", "avx_vnni")  # what int8 inference on x86 uses


def host_cpu() -> tuple[str, set[str]]:
    """This machine's lscpu model and /proc/cpuinfo flags ("unknown" and none where they
    cannot be read)."""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        lscpu = ""
    try:
        flags = cpu_flags(Path("/proc/cpuinfo").read_text())
    except OSError:
        flags = set()
    return lscpu_model(lscpu), flags


def lscpu_model(text: str) -> str:
    """The `Model name:` of lscpu's output, or "unknown"."""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "Model name" and value.strip():
            return value.strip()
    return "unknown"


def cpu_flags(cpuinfo: str) -> set[str]:
    """Every flag /proc/cpuinfo lists (x86 `flags`, arm64 `Features`)."""
    found: set[str] = set()
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            found |= set(value.split())
    return found


def cpu_flag_text(flags: set[str]) -> str:
    """Which of CPU_FLAGS the CPU has: `avx2 yes, avx512_vnni no, ...`."""
    return ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in CPU_FLAGS)
