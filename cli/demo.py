"""`imgclf demo` (what `make demo` runs): the whole pipeline on one machine, with a report."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.rule import Rule
from rich.table import Table

from classifier.artifact import read_metadata
from classifier.contracts import OUR_TAG_KEYS, Status
from infra.local.environment import LocalEnvironment
from infra.local.state import imgclf_home, read_state

from .accounting import Accounting, wait_until_accounted
from .deployment import Deployment
from .dlq import list_dead_letters
from .errors import CliError
from .local import deployment_of
from .models import promote, upload_artifact
from .output import plain, progress, stderr, stdout
from .report import ReportData, write_report
from .results import render_table
from .samples import USER_TAGS, ground_truth, write_bad_inputs
from .trainer import VERSION_FILE, TrainingSettings, train_to_cache
from .upload import Upload, collect, upload_all

# EfficientNet-Lite0 with ImageNet weights, its top trained on emoji renderings: a CPU trains
# it in minutes from cached activations, and it labels real photographs too.
DEMO_TRAINING = TrainingSettings(
    dataset="emoji",
    arch="efficientnet_lite0",
    images_per_class=200,
    epochs=8,
    extra=("--fine-tune-epochs", "4", "--heldout-images-per-class", "20"),
)
HELD_OUT_SEED = 90_210  # training generates with other seeds: these images are unseen
CACHE_SOURCES = ("training", "classifier")


def source_fingerprint(packages: tuple[str, ...] = CACHE_SOURCES) -> str:
    """A hash of the Python sources of the packages that make and read a model."""
    digest = hashlib.sha256()
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise CliError(f"package {package!r} is not importable")
        root = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            digest.update(f"{package}/{path.relative_to(root).as_posix()}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(settings: TrainingSettings, sources: str | None = None) -> str:
    """Model cache key: data and code version (sources + generator and training settings)."""
    payload = {"sources": sources or source_fingerprint(), "settings": settings.to_dict()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CachedModel:
    version: str
    tarball: Path
    model_dir: Path
    reused: bool


def cached_or_trained(
    settings: TrainingSettings,
    *,
    home: Path | None = None,
    cache_root: Path | None = None,
    retrain: bool = False,
) -> CachedModel:
    """The model for these settings from <cache_root>/<key>/, training it if needed.

    cache_root defaults to .imgclf/cache (where `local up` finds models to seed).
    """
    key = cache_key(settings)
    root = cache_root or (home or imgclf_home()) / "cache"
    target = root / f"{settings.dataset}-{key}"
    tarball, version_file = target / "model.tar.gz", target / VERSION_FILE
    if not retrain and tarball.is_file() and version_file.is_file():
        return CachedModel(version_file.read_text().strip(), tarball, target / "model", True)
    version = f"{settings.dataset}-{key[:10]}"
    train_to_cache(settings, target=target, version=version, label=f"training {version}")
    return CachedModel(version, tarball, target / "model", False)


def _generate_inputs(run_dir: Path, images_per_class: int) -> tuple[list[Upload], list[Upload]]:
    """Held-out images (label = folder) plus bad inputs; and the user-tagged upload."""
    from training.datasets import emoji

    images = run_dir / "images"
    emoji.generate(
        images / "heldout",
        images_per_class=images_per_class,
        seed=HELD_OUT_SEED,
        glyph_split="train",
    )
    heldout = collect([images / "heldout"])
    sample_jpeg = heldout[0].path.read_bytes()
    write_bad_inputs(images / "bad", sample_jpeg)
    tagged_dir = images / "user-tagged" / "cat"
    tagged_dir.mkdir(parents=True, exist_ok=True)
    emoji.generate(
        images / "user-tagged-source",
        images_per_class=1,
        seed=HELD_OUT_SEED + 1,
        glyph_split="train",
    )
    source = next((images / "user-tagged-source" / "cat").glob("*.jpg"))
    (tagged_dir / "cat_with_user_tags.jpg").write_bytes(source.read_bytes())
    plain_uploads = collect([images / "heldout", images / "bad"])
    tagged_uploads = collect([images / "user-tagged"])
    return plain_uploads, tagged_uploads


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def run_demo(
    *,
    images_per_class: int = 20,
    workers: int | None = None,
    retrain: bool = False,
    out: Path | None = None,
    timeout_seconds: float = 600.0,
    settings: TrainingSettings = DEMO_TRAINING,
    cache_root: Path | None = None,
) -> int:
    """Start, train or reuse, promote, upload, wait, summarise, report. Returns the exit code."""
    home = imgclf_home()
    run_dir = out or home / "demo" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    other = read_state()
    environment = LocalEnvironment(workers=workers, write_state_file=other is None)

    stdout.print(Rule("1/6 local environment"))
    with environment:
        deployment = deployment_of(environment)
        stdout.print(f"moto on {environment.endpoint_url}, {environment.workers} workers")

        stdout.print(Rule("2/6 model"))
        model = cached_or_trained(settings, home=home, cache_root=cache_root, retrain=retrain)
        stdout.print(
            f"{'reusing cached' if model.reused else 'trained'} model {model.version} "
            f"({model.tarball})"
        )
        upload_artifact(deployment, model.tarball, model.version)
        promote(deployment, model.version, force=True)
        metadata = read_metadata(model.model_dir).to_dict()
        stdout.print(f"promoted {model.version}: {_gate_line(metadata)}")
        stdout.print(
            f"live model: {model.version} ({metadata.get('architecture')}), {model.tarball}"
        )

        stdout.print(Rule("3/6 inputs"))
        plain_uploads, tagged_uploads = _generate_inputs(run_dir, images_per_class)
        uploads = plain_uploads + tagged_uploads
        stdout.print(
            f"{len(plain_uploads)} generated images and bad inputs, "
            f"{len(tagged_uploads)} with user tags, in {run_dir / 'images'}"
        )
        started = time.monotonic()
        with progress() as bar:
            task = bar.add_task("uploading", total=len(uploads))
            upload_all(deployment, plain_uploads, on_done=lambda _: bar.advance(task))
            upload_all(
                deployment, tagged_uploads, tags=USER_TAGS, on_done=lambda _: bar.advance(task)
            )

        stdout.print(Rule("4/6 classification"))
        with progress() as bar:
            task = bar.add_task("waiting until every object is accounted for", total=len(uploads))
            accounting = wait_until_accounted(
                deployment,
                [u.key for u in uploads],
                timeout_seconds=timeout_seconds,
                on_progress=lambda done: bar.update(task, completed=done),
            )
        elapsed = time.monotonic() - started
        stats = environment.poller.stats.snapshot() if environment.poller else {}
        tags = _object_tags(deployment, [u.key for u in tagged_uploads] + _sample(accounting))
        dead_letters = [
            (", ".join(letter.keys), letter.body) for letter in list_dead_letters(deployment)
        ]

    stdout.print(Rule("5/6 results"))
    items = [accounting.items[key] for key in sorted(accounting.items)]
    stdout.print(render_table(items, title=f"{len(items)} results"))
    labels = set(metadata.get("labels", []))
    truth = {u.key: t for u in uploads if (t := ground_truth(u.key, labels)) is not None}
    figures = _figures(items, truth, accounting, elapsed, stats, len(uploads))
    _print_summary(items, truth, figures, tags, tagged_uploads)

    stdout.print(Rule("6/6 report"))
    report = write_report(
        ReportData(
            title="imgclf demo",
            items=items,
            files={u.key: u.path for u in uploads},
            truth=truth,
            figures=figures,
            metadata=metadata,
            model_report_dir=model.model_dir / "report",
            dead_letters=dead_letters,
            missing=sorted(accounting.missing),
            tags=tags,
        ),
        run_dir / "report.html",
    )
    stdout.print(f"report: {report}")
    if accounting.missing:
        raise CliError(f"{len(accounting.missing)} objects were not accounted for")
    return 0


def _gate_line(metadata: dict[str, Any]) -> str:
    """The quality gate's verdict; the demo promotes either way, and says so."""
    gate = metadata.get("gate") or {}
    accuracy = (metadata.get("metrics") or {}).get("int8_accuracy")
    measured = f"int8 test accuracy {accuracy:.1%}" if isinstance(accuracy, float) else ""
    if gate.get("passed", True):
        return f"quality gate passed ({measured})"
    reasons = "; ".join(gate.get("reasons", [])) or measured
    return f"[yellow]quality gate failed ({reasons}); promoted anyway for the demo[/]"


def _sample(accounting: Accounting) -> list[str]:
    return sorted(accounting.items)[:3]


def _object_tags(deployment: Deployment, keys: list[str]) -> dict[str, dict[str, str]]:
    s3 = deployment.client("s3")
    tags: dict[str, dict[str, str]] = {}
    for key in keys:
        response = s3.get_object_tagging(Bucket=deployment.images_bucket, Key=key)
        tags[key] = {tag["Key"]: tag["Value"] for tag in response.get("TagSet", [])}
    return tags


def _figures(
    items: list[dict[str, Any]],
    truth: dict[str, str],
    accounting: Accounting,
    elapsed: float,
    stats: dict[str, Any],
    uploaded: int,
) -> dict[str, str]:
    classified = [i for i in items if i.get("status") == Status.CLASSIFIED]
    judged = [i for i in classified if str(i["key"]) in truth]
    correct = sum(1 for i in judged if i.get("label") == truth[str(i["key"])])
    handler_ms = [float(plain(i.get("latency_ms", 0))) for i in items]
    end_to_end = list(stats.get("end_to_end_ms", []))
    return {
        "accuracy (held-out)": f"{correct / len(judged):.1%}" if judged else "n/a",
        "correct": f"{correct}/{len(judged)}",
        "uploaded": str(uploaded),
        "classified": str(len(classified)),
        "rejected": str(sum(1 for i in items if i.get("status") == Status.REJECTED)),
        "in DLQ": str(len(accounting.dead_lettered)),
        "unaccounted": str(len(accounting.missing)),
        "throughput": f"{uploaded / elapsed:.1f} img/s" if elapsed > 0 else "n/a",
        "wall time": f"{elapsed:.1f} s",
        "handler p50": f"{statistics.median(handler_ms):.0f} ms" if handler_ms else "n/a",
        "handler p95": f"{_percentile(handler_ms, 0.95):.0f} ms" if handler_ms else "n/a",
        "queue→done p50": f"{statistics.median(end_to_end):.0f} ms" if end_to_end else "n/a",
        "queue→done p95": f"{_percentile(end_to_end, 0.95):.0f} ms" if end_to_end else "n/a",
    }


def _print_summary(
    items: list[dict[str, Any]],
    truth: dict[str, str],
    figures: dict[str, str],
    tags: dict[str, dict[str, str]],
    tagged_uploads: list[Upload],
) -> None:
    per_class: Counter[str] = Counter()
    per_class_correct: Counter[str] = Counter()
    for item in items:
        expected = truth.get(str(item["key"]))
        if expected is not None and item.get("status") == Status.CLASSIFIED:
            per_class[expected] += 1
            per_class_correct[expected] += item.get("label") == expected
    table = Table(title="accuracy by class (ground truth = folder)")
    table.add_column("label")
    table.add_column("correct", justify="right")
    table.add_column("accuracy", justify="right")
    for label in sorted(per_class):
        table.add_row(
            label,
            f"{per_class_correct[label]}/{per_class[label]}",
            f"{per_class_correct[label] / per_class[label]:.0%}",
        )
    stdout.print(table)
    summary = Table(title="demo figures", show_header=False)
    summary.add_column("figure", style="bold")
    summary.add_column("value", justify="right")
    for name, value in figures.items():
        summary.add_row(name, value)
    stdout.print(summary)
    for upload in tagged_uploads:
        object_tags = tags.get(upload.key, {})
        kept = all(object_tags.get(k) == v for k, v in USER_TAGS.items())
        ours = all(k in object_tags for k in OUR_TAG_KEYS)
        stdout.print(
            f"tags on {upload.key}: user tags {'kept' if kept else '[red]LOST[/]'}, "
            f"imgclf tags {'added' if ours else '[red]missing[/]'}"
        )
    if any(figures.get(k) not in (None, "0") for k in ("in DLQ", "unaccounted")):
        stderr.print("[yellow]some objects did not reach the table: see the report[/]")
