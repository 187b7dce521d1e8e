"""`imgclf demo` (what `make demo` runs): the whole pipeline on one machine, with a report."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shlex
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from classifier.artifact_files import read_metadata
from classifier.contracts import (
    ARTIFACT_HIERARCHY_FILE,
    EMOJI_RENDERINGS,
    OUR_TAG_KEYS,
    OUTSIDE_PHOTOS,
    REAL_PHOTOS,
    UNKNOWN_LABEL,
)
from classifier.hierarchy import HierarchyError, LabelHierarchy
from gate.recorded import recorded_gate
from infra.local import LocalEnvironment, imgclf_home, read_state

from . import demo_summary as summary
from .accounting import Accounting, wait_until_accounted
from .demo_report import ReportData, write_report
from .demo_summary import Judged
from .deployment import Deployment
from .dlq import list_dead_letters
from .errors import CliError
from .labels import optional_hierarchy
from .local import deployment_of
from .model_day0 import cached_day0
from .models import promote, upload_artifact
from .output import NATIVE_LOG, native_stderr_to, progress, stderr, stdout
from .packed import VERSION_FILE
from .report_labels import labelled_items
from .result_formats import to_json
from .result_queries import object_tags
from .samples import USER_TAGS, ground_truth, write_bad_inputs
from .trainer import TrainingSettings, train_to_cache
from .upload import Upload, collect, upload_all

# EfficientNet-Lite0 with ImageNet weights, its top trained on emoji renderings plus the real
# photos' training split (few-shot), mixed with ImageNet's own classifier: a CPU trains it in
# minutes from cached activations, and it labels real photographs and renderings alike.
DEMO_TRAINING = TrainingSettings(
    dataset="emoji",
    arch="efficientnet_lite0",
    images_per_class=300,
    epochs=8,
    fine_tune_epochs=4,
    heldout_images_per_class=20,
)
RENDERINGS_PREFIX = "heldout/"
PHOTOS_PREFIX = "photos/"
OUTSIDE_PREFIX = "outside/"  # outside/unknown/<photo>: animals none of the labels name
UPLOAD_KINDS = {
    "renderings": RENDERINGS_PREFIX,
    "real photos": PHOTOS_PREFIX,
    "outside photos": OUTSIDE_PREFIX,
}
FUNCTION_LOG = "function.log"  # the function's own JSON lines (CloudWatch Logs on AWS)
RESULTS_FILE = "results.json"  # every item of the run, as `imgclf results --format json` prints
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
        # The code, and the data it ships (the label hierarchy, the photo manifests).
        for path in sorted([*root.rglob("*.py"), *root.rglob("*.json")]):
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


def with_photos(settings: TrainingSettings) -> tuple[TrainingSettings, Path | None]:
    """The settings with the real photos' training split as few-shot data, and the held-out
    photos to upload; unchanged settings and None when the photos cannot be assembled."""
    from training.datasets import photos

    try:
        root = photos.assemble()
    except Exception as error:  # noqa: BLE001 - any failure: the demo goes on without photos
        stderr.print(f"[yellow]no real photographs ({error}); training on renderings only[/]")
        return settings, None
    if settings.get("arch") != "efficientnet_lite0" or settings.get("extra_train_dir") is not None:
        return settings, root / "heldout"
    return settings.with_values(extra_train_dir=root / "train"), root / "heldout"


def _generate_inputs(
    run_dir: Path, uploads_per_class: int, photos_dir: Path | None
) -> tuple[list[Upload], list[Upload]]:
    """Held-out renderings and real photos (label = folder) plus bad inputs; and the
    user-tagged upload."""
    from training.datasets import emoji

    images = run_dir / "images"
    emoji.generate(
        images / "heldout",
        images_per_class=uploads_per_class,
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
    folders = [images / "heldout", images / "bad"]
    if photos_dir is not None:
        shutil.copytree(photos_dir, images / "photos", dirs_exist_ok=True)
        folders.insert(1, images / "photos")
        outside = _outside_photos(photos_dir)
        if outside is not None:
            shutil.copytree(outside, images / "outside" / UNKNOWN_LABEL, dirs_exist_ok=True)
            folders.insert(2, images / "outside")
    plain_uploads = collect(folders)
    tagged_uploads = collect([images / "user-tagged"])
    return plain_uploads, tagged_uploads


def _outside_photos(photos_dir: Path) -> Path | None:
    """The held-out photos of animals outside the ten classes, beside the held-out photos."""
    from training.datasets import photos

    directory = photos.outside_dir("heldout", photos_dir.parent)
    return directory if directory.is_dir() else None


def _environment(run_dir: Path, workers: int | None) -> LocalEnvironment:
    """The demo's own local environment (a state file only if no other one runs); the
    function's log lines go to the run's directory, as CloudWatch Logs would keep them."""
    return LocalEnvironment(
        workers=workers,
        write_state_file=read_state() is None,
        function_log=run_dir / FUNCTION_LOG,
    )


def run_demo(
    *,
    uploads_per_class: int = 20,
    workers: int | None = None,
    retrain: bool = False,
    out: Path | None = None,
    timeout_seconds: float = 600.0,
    settings: TrainingSettings = DEMO_TRAINING,
    cache_root: Path | None = None,
) -> int:
    """Start, train or reuse, promote, upload, wait, summarise, report. Returns the exit code.

    Progress goes to stderr, a line per step (bars vanish when done); the summary is one
    screen on stdout (demo_summary.screen)."""
    home = imgclf_home()
    run_dir = out or home / "demo" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    environment = _environment(run_dir, workers)
    with native_stderr_to(run_dir / NATIVE_LOG), environment:
        deployment = deployment_of(environment)
        stderr.print(f"local environment: moto on {environment.endpoint_url}")
        settings, photos_dir = with_photos(settings)
        live = _live_model(deployment, settings, home, cache_root, retrain)
        run = _classify(deployment, run_dir, uploads_per_class, photos_dir, timeout_seconds)
        stats = environment.poller.stats.snapshot() if environment.poller else {}
        tags = {u.key: object_tags(deployment, u.key) for u in run.tagged}
        dead_letters = [
            (", ".join(letter.keys), letter.body) for letter in list_dead_letters(deployment)
        ]
    items = [run.accounting.items[key] for key in sorted(run.accounting.items)]
    labels = {*live.metadata.get("labels", []), UNKNOWN_LABEL}
    truth = {u.key: t for u in run.uploads if (t := ground_truth(u.key, labels)) is not None}
    judged = Judged.of(items, truth, UPLOAD_KINDS)
    shown = summary.figures(
        items,
        judged,
        uploaded=len(run.uploads),
        dead_lettered=len(run.accounting.dead_lettered),
        missing=len(run.accounting.missing),
        elapsed=run.elapsed,
        end_to_end_ms=list(stats.get("end_to_end_ms", [])),
    )
    results, report = _write_outputs(
        run_dir, live, run, items, truth, judged, shown, tags, dead_letters
    )
    for line in summary.screen(
        live_model=f"{live.model.version} ({live.metadata.get('architecture')}), "
        + f"{_gate_line(live.metadata)}, {live.verdict}",
        live_artifact=_shown(live.model.tarball),
        judged=judged,
        items=items,
        figures=shown,
        tag_lines=_tag_lines(tags, run.tagged),
        report=_shown(report),
        results_command=f"imgclf results --file {shlex.quote(_shown(results))} --limit 0",
    ):
        stdout.print(line, highlight=False, markup=False, soft_wrap=True)
    if run.accounting.missing:
        raise CliError(f"{len(run.accounting.missing)} objects were not accounted for")
    return 0


def _write_outputs(
    run_dir: Path,
    live: _Live,
    run: _Run,
    items: list[dict[str, Any]],
    truth: dict[str, str],
    judged: Judged,
    shown: dict[str, str],
    tags: dict[str, dict[str, str]],
    dead_letters: list[tuple[str, str]],
) -> tuple[Path, Path]:
    """results.json (what `imgclf results --file` reads) and report.html."""
    results = run_dir / RESULTS_FILE
    results.write_text(to_json(items) + "\n", encoding="utf-8")
    report = write_report(
        ReportData(
            title="imgclf demo",
            items=items,
            files={u.key: u.path for u in run.uploads},
            truth=truth,
            figures=shown,
            metadata=live.metadata,
            model_report_dir=live.model.model_dir / "report",
            dead_letters=dead_letters,
            missing=sorted(run.accounting.missing),
            tags=tags,
            models=live.compared,
            live=_live_accuracy(judged),
            galleries={
                PHOTOS_PREFIX: "Real photographs, by label",
                OUTSIDE_PREFIX: "Animals outside the labels (truth: unknown), by label",
            },
            hierarchy=_hierarchy(live.model.model_dir) if labelled_items(items) else None,
        ),
        run_dir / "report.html",
    )
    return results, report


def _hierarchy(model_dir: Path) -> LabelHierarchy | None:
    """The hierarchy the live model labelled with (its artifact's), else the built-in one;
    None when neither is readable (the report then files every label under "Other")."""
    path = model_dir / ARTIFACT_HIERARCHY_FILE
    if path.is_file():
        try:
            return LabelHierarchy.from_json(path.read_text(encoding="utf-8"))
        except (OSError, HierarchyError):
            pass  # the built-in one names the same labels, less a recent override at most
    return optional_hierarchy()[0]


@dataclass(frozen=True)
class _Live:
    model: CachedModel  # the live one
    metadata: dict[str, Any]
    compared: dict[str, dict[str, Any]]  # by role: the day-0 model (if any) and the trained one
    verdict: str  # how the trained model went live, or why it did not


def _live_model(
    deployment: Deployment,
    settings: TrainingSettings,
    home: Path,
    cache_root: Path | None,
    retrain: bool,
) -> _Live:
    """The day-0 model goes live first; the trained one replaces it only through promotion's
    every check, the champion comparison included (no force). Without a day-0 model (the
    CNN), a trained model its own gate refuses is forced live, and the verdict says so."""
    compared: dict[str, dict[str, Any]] = {}
    champion: CachedModel | None = None
    if settings.get("arch") == "efficientnet_lite0":
        day0 = cached_day0(cache_root or home / "cache", source_fingerprint())
        upload_artifact(deployment, day0.tarball, day0.version)
        compared["day-0"] = read_metadata(day0.model_dir).to_dict()
        try:
            promote(deployment, day0.version)
            champion = CachedModel(day0.version, day0.tarball, day0.model_dir, True)
        except CliError as error:
            stderr.print(f"[yellow]the day-0 model cannot go live: {error}[/]")
    model = cached_or_trained(settings, home=home, cache_root=cache_root, retrain=retrain)
    upload_artifact(deployment, model.tarball, model.version)
    compared["trained"] = read_metadata(model.model_dir).to_dict()
    source = "cached" if model.reused else "trained"
    try:
        promotion = promote(deployment, model.version)
    except CliError as error:
        stderr.print(f"model: {source} {model.version} not promoted: {error}")
        if champion is not None:
            return _Live(champion, compared["day-0"], compared, "trained one refused by champion")
        promote(deployment, model.version, force=True)
        return _Live(model, compared["trained"], compared, "forced live for the demo")
    detail = promotion.comparison.summary if promotion.comparison else "nothing live before it"
    stderr.print(f"model: {source} {model.version}, promoted: {detail}")
    verdict = "champion check passed" if champion is not None else "promoted"
    return _Live(model, compared["trained"], compared, verdict)


@dataclass(frozen=True)
class _Run:
    uploads: list[Upload]
    tagged: list[Upload]
    accounting: Accounting
    elapsed: float


def _classify(
    deployment: Deployment,
    run_dir: Path,
    uploads_per_class: int,
    photos_dir: Path | None,
    timeout_seconds: float,
) -> _Run:
    """Generate and upload the inputs, then wait until every object is accounted for."""
    plain_uploads, tagged = _generate_inputs(run_dir, uploads_per_class, photos_dir)
    uploads = plain_uploads + tagged
    stderr.print(
        f"inputs: {len(plain_uploads)} images and bad files, {len(tagged)} with user tags, "
        f"in {run_dir / 'images'}"
    )
    started = time.monotonic()
    with progress(transient=True) as bar:
        task = bar.add_task("uploading", total=len(uploads))
        upload_all(deployment, plain_uploads, on_done=lambda _: bar.advance(task))
        upload_all(deployment, tagged, tags=USER_TAGS, on_done=lambda _: bar.advance(task))
    with progress(transient=True) as bar:
        task = bar.add_task("classifying", total=len(uploads))
        accounting = wait_until_accounted(
            deployment,
            [u.key for u in uploads],
            timeout_seconds=timeout_seconds,
            on_progress=lambda done: bar.update(task, completed=done),
        )
    return _Run(uploads, tagged, accounting, time.monotonic() - started)


def _live_accuracy(judged: Judged) -> dict[str, str]:
    """The live model's accuracy through the pipeline, by evaluation set name."""
    names = {
        "renderings": EMOJI_RENDERINGS,
        "real photos": REAL_PHOTOS,
        "outside photos": OUTSIDE_PHOTOS,
    }
    return {
        names[kind]: f"{sum(r for _, r in rows) / len(rows):.1%} of {len(rows)}"
        for kind, rows in judged.rows.items()
        if rows
    }


def _gate_line(metadata: dict[str, Any]) -> str:
    """The live model's own quality gate verdict, short (stderr had the reasons)."""
    gate = recorded_gate(metadata)
    if gate is None:
        return "no quality gate recorded"
    return "quality gate passed" if gate.passed else "quality gate failed"


def _shown(path: Path) -> str:
    """A path as short as it can be said from here (relative under the current directory)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _tag_lines(tags: dict[str, dict[str, str]], tagged: list[Upload]) -> list[str]:
    lines = []
    for upload in tagged:
        object_tags = tags.get(upload.key, {})
        kept = all(object_tags.get(k) == v for k, v in USER_TAGS.items())
        ours = all(k in object_tags for k in OUR_TAG_KEYS)
        lines.append(
            f"tags on {upload.key}: user tags {'kept' if kept else 'LOST'}, "
            f"imgclf tags {'added' if ours else 'missing'}"
        )
    return lines
