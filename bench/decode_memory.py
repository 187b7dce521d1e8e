"""Peak memory of decoding large images on the function's record threads, with the decode
budget and heap trim (`imaging.PixelBudget`, `DECODE_PIXEL_BUDGET`) and without them.

    .venv/bin/python bench/decode_memory.py [--side 7000] [--threads 8]

Writes three images of side x side pixels that stay small on disk (a lossless WebP, an
8-bit RGBA PNG and a 16-bit grey PNG, all flat), then, for each, runs `imaging.prepare_image`
on --threads threads at once in a fresh process (its peak resident memory, VmHWM, above
what it held before), first with the
budget and the trim as the function has them, then with both off (a budget no image fills,
no trim): the baseline, in the same run. Prints each peak above the process's start and
their ratio. Figures only, never a test.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions")]

from bench.generic_cost import cpu_summary, cpu_text  # noqa: E402

CHILD = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
from classifier import imaging
from classifier.imaging import ImageLimits, InputSpec, prepare_image
path, threads, guarded = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "on"
if not guarded:
    imaging.DECODING = imaging.PixelBudget(10**12)
    imaging._MALLOC_TRIM = None
data = open(path, "rb").read()
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # the peak (VmHWM) starts again from what the process holds now
start = status("VmRSS")
spec, limits = InputSpec(224, 224), ImageLimits()
with ThreadPoolExecutor(threads) as pool:
    list(pool.map(lambda _: prepare_image(data, spec, limits), range(threads)))
print(json.dumps({"peak_mb": status("VmHWM") - start}))
"""


def images(side: int, folder: Path) -> list[Path]:
    """Flat images of side x side pixels, in the formats whose decoders hold the most."""
    import numpy as np
    from PIL import Image

    written = []
    for name, image, params in (
        ("lossless.webp", Image.new("RGBA", (side, side), (0, 0, 0, 0)), {"lossless": True}),
        ("rgba8.png", Image.new("RGBA", (side, side), (200, 30, 30, 255)), {}),
        ("grey16.png", Image.fromarray(np.full((side, side), 30000, np.uint16)), {}),
    ):
        buffer = io.BytesIO()
        image.save(buffer, name.rsplit(".", 1)[1].upper(), **params)
        path = folder / name
        path.write_bytes(buffer.getvalue())
        written.append(path)
    return written


def peak_mb(path: Path, threads: int, guarded: bool) -> float:
    env = {"PYTHONPATH": f"{REPO / 'functions'}:{REPO}"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(threads), "on" if guarded else "off"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", type=int, default=7000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    print(cpu_summary(cpu_text()))
    print(f"{args.threads} threads at once, {args.side}x{args.side} px each")
    with tempfile.TemporaryDirectory() as folder:
        for path in images(args.side, Path(folder)):
            guarded = peak_mb(path, args.threads, guarded=True)
            baseline = peak_mb(path, args.threads, guarded=False)
            print(
                f"  {path.name:14} budget and trim {guarded:7.0f} MB, without {baseline:7.0f} MB"
                f" (ratio {guarded / baseline:.2f})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
