"""The native unfilter under AddressSanitizer and UndefinedBehaviorSanitizer: random layouts,
filter types (some invalid) and argument errors, with no out-of-bounds access, no undefined
behaviour and no leak from unfilter.c. Built from the same source with the sanitizers on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NATIVE = Path(__file__).resolve().parents[3] / "functions" / "classifier" / "native"

FUZZ = """
import ctypes, sys
import numpy as np

library = ctypes.CDLL(sys.argv[1])
unfilter = library.imgclf_unfilter
unfilter.restype = ctypes.c_long
rng = np.random.default_rng(7)
statuses = set()
for _ in range(300):
    width, height = int(rng.integers(1, 260)), int(rng.integers(1, 40))
    channels = int(rng.choice([3, 4]))
    rows = []
    for _ in range(height):
        kind = int(rng.integers(0, 6)) if rng.random() < 0.03 else int(rng.integers(0, 5))
        rows.append(bytes([kind]) + rng.integers(0, 256, width * channels, np.uint8).tobytes())
    raw = b"".join(rows)
    out = np.empty((height, width, channels), np.uint8)
    status = unfilter(raw, ctypes.c_size_t(len(raw)), ctypes.c_void_p(out.ctypes.data),
                      ctypes.c_size_t(height), ctypes.c_size_t(width), channels)
    statuses.add("ok" if status == 0 else "bad row" if status > 0 else status)
out = np.empty(64, np.uint8)
for size, height, width, channels in [(9, 1, 3, 3), (10, 1, 3, 2), (10, 0, 3, 3), (0, 1, 0, 3)]:
    status = unfilter(bytes(size), ctypes.c_size_t(size), ctypes.c_void_p(out.ctypes.data),
                      ctypes.c_size_t(height), ctypes.c_size_t(width), channels)
    assert status == -1, (size, height, width, channels, status)
print(sorted(map(str, statuses)))
"""


def test_the_unfilter_is_memory_safe_under_the_sanitizers(tmp_path: Path) -> None:
    # Given unfilter.c built with ASan and UBSan (gcc's runtimes, preloaded into Python)
    library = tmp_path / "libunfilter-sanitized.so"
    flags = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
    subprocess.run(
        ["gcc", *flags, "-shared", "-fPIC", "-o", str(library), str(NATIVE / "unfilter.c")],
        check=True,
    )
    asan = subprocess.run(
        ["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert Path(asan).is_file(), "gcc's AddressSanitizer runtime (libasan) is not installed"
    env = {
        **os.environ,
        "LD_PRELOAD": asan,
        # Python's own allocations are not the unfilter's: leaks are checked below by source
        "ASAN_OPTIONS": "detect_leaks=1:exitcode=0",
        "UBSAN_OPTIONS": "halt_on_error=1",
    }
    # When the fuzz runs against it
    run = subprocess.run(
        [sys.executable, "-c", FUZZ, str(library)], capture_output=True, text=True, env=env
    )
    # Then it finished with valid and invalid rows seen, and nothing traced to unfilter.c
    assert run.returncode == 0, run.stderr[-3000:]
    assert "'bad row'" in run.stdout and "'ok'" in run.stdout
    assert "ERROR: AddressSanitizer" not in run.stderr
    assert "runtime error" not in run.stderr
    assert "unfilter.c" not in run.stderr, run.stderr[-3000:]
