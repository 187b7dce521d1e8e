"""End-to-end throughput of the local pipeline with 1, 2 and 4 workers, and where time goes.

    .venv/bin/python bench/local_pipeline.py [--images 200] [--workers 1 2 4] [--model TARBALL]

For each worker count: a fresh local environment, the model promoted and warmed up with one
image, N images uploaded while the poller is paused; then the poller starts and the clock runs
until every object is in the results table. Figures per image:
  - moto:          time inside moto's WSGI app, for every request (queue, S3, DynamoDB, SSM)
  - S3 GET / tags / DynamoDB / SSM: the handler's boto3 calls, client-side (includes moto)
  - handler compute: handler time minus its AWS calls (decode, preprocess, LiteRT, Python)
  - poller:        SQS receive + delete and the event-source-mapping bookkeeping
The baseline is the same images classified in a loop with no AWS at all (decode + infer).
Prints figures; not a test. Default model: the demo's (cached, or trained once).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import boto3

from classifier.artifact_files import unpack_artifact
from classifier.imaging import ImageLimits, prepare_image
from classifier.model import LoadedModel
from imgclf.accounting import wait_until_accounted
from imgclf.demo import DEMO_TRAINING, cached_or_trained
from imgclf.local import deployment_of
from imgclf.models import promote, upload_artifact
from imgclf.upload import Upload, collect, upload_all
from infra.local.environment import LocalEnvironment
from infra.local.state import imgclf_home

OPERATION_GROUPS = {
    "s3.GetObject": "S3 GET",
    "s3.GetObjectTagging": "tags",
    "s3.PutObjectTagging": "tags",
    "dynamodb.GetItem": "DynamoDB",
    "dynamodb.PutItem": "DynamoDB",
    "dynamodb.UpdateItem": "DynamoDB",
    "dynamodb.DeleteItem": "DynamoDB",
    "ssm.GetParameter": "SSM",
}


class CallTimer:
    """Times the handler's boto3 calls (default session) by operation, per thread."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._local = threading.local()
        self._lock = threading.Lock()

    def install(self) -> None:
        boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
        assert session is not None
        events = session.events
        events.register("before-call", self._before)
        events.register("after-call", self._after)

    def _before(self, model: Any, **_: Any) -> None:
        self._local.started = time.perf_counter()

    def _after(self, model: Any, **_: Any) -> None:
        elapsed = time.perf_counter() - getattr(self._local, "started", time.perf_counter())
        name = f"{model.service_model.endpoint_prefix}.{model.name}"
        with self._lock:
            self.seconds[name] += elapsed
            self.calls[name] += 1

    def reset(self) -> None:
        with self._lock:
            self.seconds.clear()
            self.calls.clear()


class MotoTimer:
    """WSGI middleware around moto's app: server-side seconds per request."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.requests = 0
        self._lock = threading.Lock()

    def wrap(self, environment: LocalEnvironment) -> None:
        # moto's ThreadedMotoServer keeps its werkzeug server in a private attribute.
        server = environment.server._server._server  # type: ignore[attr-defined]
        app = server.app

        def timed(environ: dict[str, Any], start_response: Any) -> Any:
            started = time.perf_counter()
            try:
                return list(app(environ, start_response))
            finally:
                with self._lock:
                    self.seconds += time.perf_counter() - started
                    self.requests += 1

        server.app = timed

    def reset(self) -> None:
        with self._lock:
            self.seconds, self.requests = 0.0, 0


def generate_images(directory: Path, count: int) -> list[Upload]:
    from training.datasets import emoji

    per_class = max(1, count // len(emoji.LABELS))
    emoji.generate(directory / "bench", images_per_class=per_class, seed=4242, glyph_split="train")
    return collect([directory / "bench"])[:count]


def baseline(tarball: Path, uploads: list[Upload]) -> float:
    """Images per second for decode + preprocess + infer alone, one thread, no AWS."""
    with tempfile.TemporaryDirectory() as directory:
        model = LoadedModel.from_directory(unpack_artifact(tarball.read_bytes(), Path(directory)))
        limits = ImageLimits()
        data = [upload.path.read_bytes() for upload in uploads]
        model.predict(prepare_image(data[0], model.spec, limits).array)
        started = time.perf_counter()
        for body in data:
            model.predict(prepare_image(body, model.spec, limits).array)
        return len(data) / (time.perf_counter() - started)


def run_once(
    workers: int,
    tarball: Path,
    version: str,
    uploads: list[Upload],
    warmup: Upload,
    moto_process: bool = False,
) -> dict[str, Any]:
    calls, moto = CallTimer(), MotoTimer()
    environment = LocalEnvironment(
        workers=workers, poll=False, write_state_file=False, moto_process=moto_process
    ).start()
    try:
        if not moto_process:
            moto.wrap(environment)
        calls.install()
        deployment = deployment_of(environment)
        upload_artifact(deployment, tarball, version)
        promote(deployment, version, force=True)
        assert environment.poller is not None
        environment.poller.start()
        upload_all(deployment, [warmup])  # cold start (model download + load) is not timed
        wait_until_accounted(deployment, [warmup.key], timeout_seconds=120)
        environment.poller.stop()
        upload_all(deployment, uploads)
        calls.reset()
        moto.reset()
        before = environment.poller.stats.snapshot()
        environment.poller.start()
        started = time.perf_counter()
        accounting = wait_until_accounted(deployment, [u.key for u in uploads], timeout_seconds=600)
        elapsed = time.perf_counter() - started
        after = environment.poller.stats.snapshot()
    finally:
        environment.stop()
    if accounting.missing:
        raise SystemExit(f"{len(accounting.missing)} images were not classified")
    handler_seconds = after["handler_seconds"] - before["handler_seconds"]
    groups: dict[str, float] = defaultdict(float)
    for name, seconds in calls.seconds.items():
        groups[OPERATION_GROUPS.get(name, "other AWS")] += seconds
    aws_in_handler = sum(groups.values())
    latencies = [float(item["latency_ms"]) for item in accounting.items.values()]
    return {
        "moto": "process" if moto_process else "thread",
        "workers": workers,
        "images": len(uploads),
        "seconds": elapsed,
        "throughput": len(uploads) / elapsed,
        "invocations": after["invocations"] - before["invocations"],
        "handler_seconds": handler_seconds,
        "groups": dict(groups),
        "compute_seconds": handler_seconds - aws_in_handler,
        "moto_seconds": None if moto_process else moto.seconds,
        "moto_requests": moto.requests,
        "latency_p50_ms": statistics.median(latencies),
        "latency_p95_ms": sorted(latencies)[int(0.95 * (len(latencies) - 1))],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--model", type=Path, help="a model.tar.gz (default: the demo's model)")
    parser.add_argument("--version", default="bench")
    parser.add_argument(
        "--moto-process-workers",
        type=int,
        nargs="*",
        default=[2],
        help="also run these worker counts with moto in its own process",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    if args.model is not None:
        tarball, version = args.model, args.version
    else:
        model = cached_or_trained(DEMO_TRAINING, home=imgclf_home())
        tarball, version = model.tarball, model.version
    with tempfile.TemporaryDirectory() as directory:
        uploads = generate_images(Path(directory), args.images + 1)
        warmup, uploads = uploads[0], uploads[1:]
        base = baseline(tarball, uploads)
        print(f"model {version}; {len(uploads)} images; {os.cpu_count()} CPUs")
        print(f"baseline (decode + infer, 1 thread, no AWS): {base:.1f} images/s\n")
        runs = [run_once(w, tarball, version, uploads, warmup) for w in args.workers]
        runs += [
            run_once(w, tarball, version, uploads, warmup, moto_process=True)
            for w in args.moto_process_workers
        ]

    print_tables(runs, base)
    return 0


def print_tables(runs: list[dict[str, Any]], base: float) -> None:
    """Throughput and latency per run, then where each run's time goes per image."""
    first = runs[0]["throughput"]
    print(
        f"{'moto':>7} {'workers':>7} {'images/s':>9} {'vs 1st':>7} {'vs base':>8} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'batches':>8}"
    )
    for run in runs:
        print(
            f"{run['moto']:>7} {run['workers']:>7} {run['throughput']:>9.1f} "
            f"{run['throughput'] / first:>6.2f}x {run['throughput'] / base:>7.2f}x "
            f"{run['latency_p50_ms']:>7.0f} {run['latency_p95_ms']:>7.0f} {run['invocations']:>8}"
        )
    print("\nwhere the time goes, milliseconds per image (summed over worker threads):")
    columns = ["handler", "compute", "S3 GET", "tags", "DynamoDB", "SSM", "other AWS", "moto"]
    print(f"{'moto':>7} {'workers':>7} " + " ".join(f"{c:>9}" for c in columns))
    for run in runs:
        per_image = 1000 / run["images"]
        values = [
            run["handler_seconds"],
            run["compute_seconds"],
            *(run["groups"].get(name, 0.0) for name in columns[2:7]),
            run["moto_seconds"],
        ]
        cells = " ".join("      n/a" if v is None else f"{v * per_image:>9.1f}" for v in values)
        print(f"{run['moto']:>7} {run['workers']:>7} {cells}")
    print(
        "\nmoto = server-side time of every request (poller's SQS calls included; n/a when moto "
        "runs in its own process); the S3, tags, DynamoDB and SSM columns are the handler's "
        "calls as the client sees them."
    )


if __name__ == "__main__":
    sys.exit(main())
