"""Train each recipe, export int8, and print its figures on every evaluation set.

    .venv/bin/python bench/training_accuracy.py [--recipes cnn-emoji cnn-digits lite0-demo day0]
                                                [--out bench/out/training]

Recipes:
- `cnn-emoji`, `cnn-digits`: the from-scratch CNN with training's defaults;
- `lite0-demo`: what `make demo` trains (EfficientNet-Lite0, emoji renderings plus the real
  photos' training split, mixed with ImageNet's classifier);
- `day0`: ImageNet's classifier with the Animals-10 mapping, no training: the baseline the
  real-photo column is compared against (the ratio printed after the table).

Generated data sets are rendered afresh, so the wall time includes generation, training,
every evaluation and the int8 export (activations cached by an earlier run are reused, as
the demo reuses them). Targets: emoji int8 >= 95% (cnn) and on held-out renderings (Lite0),
digits >= 97%, real photos >= 85%, int8 within 1 pp of float, and at most 20% of the
outside photos (animals outside the ten classes) forced into a class. A second table gives,
per recipe, the forced rate with and without the "unknown" rule and the expected
calibration error before and after temperature scaling. Figures only, never a test.

    .venv/bin/python bench/training_accuracy.py --recipes everyday

`everyday` (opt-in; not in the default list) is a second domain: a learning curve on real
photographs of six everyday classes that are not animals (training.datasets.everyday_photos:
ball, flower, fruit, musical instrument, tool, tree; ImageNet has no name for a tree). At
1, 3, 5 and 10 photos per class it trains what `imgclf train --data-dir DIR --dataset folder
--arch efficientnet_lite0` trains (its defaults otherwise, the set's held-out folder as the
held-out set) and compares it with the day-0 model for the class names the hierarchy can
place (training.labels.mapper). Per point: held-out accuracy overall and on the
ImageNet-named classes, and the share of outside photos (animals: the outside-photos set and
the Animals-10 real photos' held-out split, none of them in any class) forced into a class,
trained vs day-0. Training refuses a label with fewer than 5 images (training.layout) and
needs 3 per class for a test split, so below 5 photos the data folder repeats each class's
photos up to 5 files: the model still learns from only 1 or 3 distinct photos per class.
Target: with 10 photos per class, >= 90% of held-out photos and better than day-0 on the
named classes.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions")]

from classifier.artifact import UnknownRule  # noqa: E402
from classifier.contracts import EMOJI_RENDERINGS, OUTSIDE_PHOTOS, REAL_PHOTOS  # noqa: E402
from classifier.imaging import InputSpec  # noqa: E402
from training.train_config import TrainConfig, parse_args  # noqa: E402

if TYPE_CHECKING:  # the everyday recipe imports training's modules when it runs
    from training.data import LoadedImages

TARGETS = {"cnn-emoji": 0.95, "cnn-digits": 0.97, "lite0-demo": 0.95, "day0": None}
REAL_PHOTOS_TARGET = 0.85
MAX_FORCED_RATE = 0.20
MAX_DROP_PP = 1.0
Row = tuple[str, dict[str, Any], bool, float]


def cnn(dataset: str) -> Callable[[Path, int], tuple[dict[str, Any], bool]]:
    def train(root: Path, seed: int) -> tuple[dict[str, Any], bool]:
        from training.workflow import run

        result = run(
            TrainConfig(
                data_dir=root / "data",
                model_dir=root / "model",
                output_dir=root / "output",
                dataset=dataset,
                artifact_path=root / "model.tar.gz",
                version=f"bench-cnn-{dataset}",
                seed=seed,
                evaluate_standard_sets=True,
            )
        )
        return _figures(result.metadata), result.passed

    return train


def lite0_demo(root: Path, seed: int) -> tuple[dict[str, Any], bool]:
    """The demo's own recipe: one definition, `imgclf.demo.DEMO_TRAINING`."""
    from imgclf.demo import DEMO_TRAINING, with_photos
    from training.workflow import run

    settings, _ = with_photos(DEMO_TRAINING)
    argv = settings.argv(
        model_dir=root / "model",
        output_dir=root / "output",
        version="bench-lite0-demo",
        generated_dir=root / "data",
    )
    config = parse_args([*argv, "--seed", str(seed)], {})
    result = run(config)
    return _figures(result.metadata), result.passed


def day0(root: Path, seed: int) -> tuple[dict[str, Any], bool]:
    from training.day0 import build_day0

    result = build_day0(root / "model", version="bench-day0")
    return _figures(result.metadata), result.gate.passed


def _figures(metadata: Any) -> dict[str, Any]:
    """model.json's metrics, with its calibration and unknown rule beside them."""
    return {
        **metadata.metrics,
        "calibration": metadata.calibration.to_dict(),
        "unknown": metadata.unknown.to_dict(),
    }


RECIPES = {
    "cnn-emoji": cnn("emoji"),
    "cnn-digits": cnn("digits"),
    "lite0-demo": lite0_demo,
    "day0": day0,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=[*RECIPES, EVERYDAY])
    parser.add_argument("--out", type=Path, default=Path("bench/out/training"))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if EVERYDAY in args.recipes:
        everyday(args.out / EVERYDAY, args.seed)
        if args.recipes == [EVERYDAY]:
            return 0
    rows: list[Row] = []
    for name in (name for name in args.recipes if name != EVERYDAY):
        root = args.out / name
        shutil.rmtree(root, ignore_errors=True)
        started = time.monotonic()
        metrics, passed = RECIPES[name](root, args.seed)
        rows.append((name, metrics, passed, time.monotonic() - started))
    print_rows(rows)
    return 0


def _accuracy(metrics: dict[str, Any], name: str, key: str = "accuracy") -> str:
    entry = (metrics.get("evaluations") or {}).get(name)
    value = entry.get(key) if entry else None
    return f"{value:.2%}" if isinstance(value, float) else "-"


def _rate(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, float) else "-"


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "-"


def _header(header: str) -> None:
    print()
    print(header)
    print("-" * len(header))


def print_rows(rows: list[Row]) -> None:
    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    _header(
        f"{'recipe':11} {'float':>7} {'int8':>7} {'drop pp':>8} {'renders':>8} "
        f"{'photos':>7} {'photos f':>8} {'int8 KB':>8} {'ms/img':>7} {'wall s':>7}  verdict"
    )
    for name, m, passed, wall in rows:
        target = TARGETS[name]
        checks = [m["drop_pp"] <= MAX_DROP_PP]
        if target is not None:
            checks.append(m["int8_accuracy"] >= target)
        photos = (m.get("evaluations") or {}).get(REAL_PHOTOS)
        if photos and name != "cnn-digits":
            checks.append(photos["accuracy"] >= REAL_PHOTOS_TARGET)
        print(
            f"{name:11} {m['float_accuracy']:7.2%} {m['int8_accuracy']:7.2%} "
            f"{m['drop_pp']:8.2f} {_accuracy(m, EMOJI_RENDERINGS):>8} "
            f"{_accuracy(m, REAL_PHOTOS):>7} {_accuracy(m, REAL_PHOTOS, 'float_accuracy'):>8} "
            f"{m['int8_size_bytes'] / 1024:8.0f} {m['int8_latency_ms_p50'] or 0:7.2f} "
            f"{wall:7.0f}  {'targets met' if all(checks) else 'TARGET MISSED'}, "
            f"gate {'passed' if passed else 'FAILED'}"
        )
    _header(
        f"{'recipe':11} {'forced before':>13} {'forced after':>12} {'caught':>7} "
        f"{'T':>6} {'ECE before':>10} {'ECE after':>9} {'photos ECE':>13}  rule"
    )
    for name, m, _, _ in rows:
        outside = (m.get("evaluations") or {}).get(OUTSIDE_PHOTOS) or {}
        calibration, unknown = m["calibration"], m["unknown"]
        photos = (calibration.get("sets") or {}).get(REAL_PHOTOS) or {}
        before, after = outside.get("forced_rate_without_unknown"), outside.get("forced_rate")
        rule = UnknownRule.from_dict(unknown).summary()
        verdict = (
            ""
            if after is None
            else ("  (<= 20% met)" if after <= MAX_FORCED_RATE else "  (> 20%: TARGET MISSED)")
        )
        print(
            f"{name:11} {_rate(before):>13} {_rate(after):>12} {_rate(outside.get('accuracy')):>7} "
            f"{calibration.get('temperature', 1.0):6.3f} {_num(calibration.get('ece_before')):>10} "
            f"{_num(calibration.get('ece_after')):>9} "
            f"{_num(photos.get('ece_before')) + ' > ' + _num(photos.get('ece_after')):>13}  "
            f"{rule or 'never unknown'} (fitted on {calibration.get('fitted_on', '-')}){verdict}"
        )
    by_name = {name: m for name, m, _, _ in rows}
    baseline = (by_name.get("day0", {}).get("evaluations") or {}).get(REAL_PHOTOS)
    for name, m, _, _ in rows:
        entry = (m.get("evaluations") or {}).get(REAL_PHOTOS)
        if baseline and entry and name != "day0" and baseline["accuracy"] > 0:
            print(
                f"real photos, {name} / day-0: {entry['accuracy'] / baseline['accuracy']:.2f}x "
                f"({entry['accuracy']:.1%} vs {baseline['accuracy']:.1%} of {entry['count']})"
            )


# --- everyday: a second domain's learning curve -----------------------------------------

EVERYDAY = "everyday"
CURVE = (1, 3, 5, 10)  # photos per class
MIN_FILES = 5  # training.layout's floor: every label needs at least 5 images
EVERYDAY_TARGET = 0.90


@dataclass(frozen=True)
class CurvePoint:
    """One model's figures on the everyday set: accuracies on held-out photos (overall, on
    the ImageNet-named classes, per class) and the share of outside photos forced into a
    class, with its "unknown" rule and without it."""

    name: str
    photos: int | None  # distinct training photos per class (None: the day-0 model)
    files: int  # files per class in the data folder
    heldout: float | None  # None: the model lacks a class, so "overall" does not apply
    heldout_without_unknown: float | None
    named: float
    forced: float
    forced_without_unknown: float
    gate: bool
    wall: float
    per_class: dict[str, float] = field(default_factory=dict)


def everyday(out: Path, seed: int) -> None:
    """Train the learning curve and the day-0 model, and print both."""
    from training.datasets import everyday_photos
    from training.labels import builtin_hierarchy
    from training.labels.mapper import find_node, map_labels

    root = everyday_photos.assemble()
    labels = everyday_photos.CLASSES
    hierarchy = builtin_hierarchy()
    named = tuple(label for label in labels if find_node(hierarchy, label) is not None)
    mapping = {label: mapped.indices for label, mapped in map_labels(named).items()}
    shutil.rmtree(out, ignore_errors=True)
    heldout, outside, outside_note = everyday_sets(root / "heldout", labels)
    points = [_day0_point(out / "day0", mapping, root / "heldout", heldout, outside, labels)]
    for photos in CURVE:
        points.append(
            _trained_point(out / f"k{photos}", root, photos, seed, (heldout, outside, labels))
        )
    print_curve(points, labels, named, heldout, outside_note)


def everyday_sets(heldout_dir: Path, labels: Sequence[str]) -> tuple[LoadedImages, np.ndarray, str]:
    """The held-out photos (in `labels` order) and the outside photos, at Lite0's size."""
    from training import evalsets
    from training.backbones import efficientnet_lite as lite
    from training.datasets import photos
    from training.datasets.animals10 import LABELS as ANIMALS10

    spec = InputSpec(height=lite.IMAGE_SIZE, width=lite.IMAGE_SIZE)
    heldout = evalsets.load_set("everyday-heldout", heldout_dir, labels, spec).images
    animals = evalsets.outside_set("heldout", spec).images.images
    real = evalsets.load_set(REAL_PHOTOS, photos.heldout_dir(), ANIMALS10, spec).images.images
    note = (
        f"{len(animals) + len(real)} photos of animals: {len(animals)} of {OUTSIDE_PHOTOS} and "
        f"{len(real)} of {REAL_PHOTOS} (Animals-10), none in any class"
    )
    return heldout, np.concatenate([animals, real]), note


def few_shot_folder(train_dir: Path, out: Path, photos: int, seed: int) -> int:
    """`photos` training photos per class (the same seeded order for every point, so each
    point's photos include the smaller points'), repeated up to MIN_FILES files."""
    files = max(photos, MIN_FILES)
    for class_dir in sorted(p for p in train_dir.iterdir() if p.is_dir()):
        available = sorted(class_dir.iterdir())
        order = np.random.default_rng(seed).permutation(len(available))
        chosen = [available[i] for i in order[:photos]]
        (out / class_dir.name).mkdir(parents=True)
        for n in range(files):
            source = chosen[n % len(chosen)]
            copy = n // len(chosen)
            shutil.copyfile(source, out / class_dir.name / f"{'r' * copy}{source.name}")
    return files


def _trained_point(
    root: Path,
    photo_root: Path,
    photos: int,
    seed: int,
    sets: tuple[LoadedImages, np.ndarray, Sequence[str]],
) -> CurvePoint:
    """What `imgclf train --data-dir DIR --dataset folder --arch efficientnet_lite0` trains
    on `photos` photos per class, with the set's held-out folder as its held-out set."""
    started = time.monotonic()
    version = f"bench-everyday-{photos}"
    passed, files = train_few_shot(
        root, photo_root / "train", photo_root / "heldout", photos, seed, version
    )
    heldout, outside, labels = sets
    return _point(
        f"trained, {photos}",
        photos,
        files,
        root / "model",
        (heldout, outside, labels),
        passed,
        time.monotonic() - started,
    )


def train_few_shot(
    root: Path, train_dir: Path, heldout_dir: Path, photos: int, seed: int, version: str
) -> tuple[bool, int]:
    """What `imgclf train --data-dir DIR --dataset folder --arch efficientnet_lite0` trains
    on `photos` photos per class of `train_dir` (the folder: root/data, `few_shot_folder`),
    with `heldout_dir` as its held-out set, into root/model: (its gate passed, files per
    class)."""
    from training.backbones import efficientnet_lite as lite
    from training.workflow import run

    files = few_shot_folder(train_dir, root / "data", photos, seed)
    result = run(
        TrainConfig(
            data_dir=root / "data",
            model_dir=root / "model",
            output_dir=root / "output",
            dataset="folder",
            arch=lite.ARCH,
            heldout_dir=heldout_dir,
            artifact_path=None,
            version=version,
            seed=seed,
        )
    )
    return result.passed, files


def _day0_point(
    root: Path,
    mapping: dict[str, tuple[int, ...]],
    heldout_dir: Path,
    heldout: LoadedImages,
    outside: np.ndarray,
    labels: Sequence[str],
) -> CurvePoint:
    """The day-0 model for the classes the hierarchy places, evaluated on their photos."""
    from training.day0 import build_day0

    started = time.monotonic()
    named_dir = root / "heldout-named"
    for label in mapping:
        shutil.copytree(heldout_dir / label, named_dir / label)
    result = build_day0(
        root / "model", version="bench-everyday-day0", mapping=mapping, eval_dir=named_dir
    )
    return _point(
        "day-0",
        None,
        0,
        root / "model",
        (heldout, outside, labels),
        result.gate.passed,
        time.monotonic() - started,
    )


def _point(
    name: str,
    photos: int | None,
    files: int,
    model_dir: Path,
    sets: tuple[LoadedImages, np.ndarray, Sequence[str]],
    passed: bool,
    wall: float,
) -> CurvePoint:
    """Score one artifact as the function runs it (int8, its own "unknown" rule)."""
    from classifier.artifact_files import read_metadata
    from classifier.contracts import ARTIFACT_MODEL_FILE
    from training.evalsets import OUTSIDE
    from training.evaluate import Int8Outputs
    from training.labels import builtin_hierarchy
    from training.labels.mapper import find_node

    heldout, outside, labels = sets
    metadata = read_metadata(model_dir)
    outputs = Int8Outputs((model_dir / ARTIFACT_MODEL_FILE).read_bytes(), metadata)
    own = list(metadata.labels)
    names = [labels[i] for i in heldout.label_ids]
    keep = np.array([name in own for name in names])
    truth = np.array([own.index(name) for name in names if name in own])
    images = heldout.images[keep]
    correct = outputs.label_ids(metadata, images) == truth
    never_unknown = replace(metadata, unknown=UnknownRule())
    correct_forced = outputs.label_ids(never_unknown, images) == truth
    hierarchy = builtin_hierarchy()
    named = np.array([find_node(hierarchy, own[t]) is not None for t in truth])
    forced = outputs.label_ids(metadata, outside) != OUTSIDE
    never = outputs.label_ids(never_unknown, outside) != OUTSIDE
    return CurvePoint(
        name=name,
        photos=photos,
        files=files,
        heldout=float(np.mean(correct)) if bool(np.all(keep)) else None,
        heldout_without_unknown=float(np.mean(correct_forced)) if bool(np.all(keep)) else None,
        named=float(np.mean(correct[named])),
        forced=float(np.mean(forced)),
        forced_without_unknown=float(np.mean(never)),
        gate=passed,
        wall=wall,
        per_class={label: float(np.mean(correct[truth == i])) for i, label in enumerate(own)},
    )


def print_curve(
    points: list[CurvePoint],
    labels: Sequence[str],
    named: Sequence[str],
    heldout: LoadedImages,
    outside_note: str,
) -> None:
    from bench.generic_cost import cpu_summary, cpu_text

    counts = np.bincount(heldout.label_ids, minlength=len(labels))
    unnamed = [label for label in labels if label not in named]
    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(cpu_summary(cpu_text()))
    print(
        f"everyday photos: {len(labels)} classes, {int(counts.sum())} held out ("
        + ", ".join(f"{label} {int(n)}" for label, n in zip(labels, counts, strict=True))
        + f"); no ImageNet name: {', '.join(unnamed) or '-'} (the day-0 model covers "
        f"{', '.join(named)})"
    )
    print(f"outside: {outside_note}")
    _header(
        f"{'model':12} {'photos':>6} {'files':>5} {'held-out':>8} {'held-out*':>9} {'named':>7} "
        f"{'forced':>7} {'forced*':>7} {'gate':>6} {'wall s':>6}  per class"
    )
    for p in points:
        per_class = ", ".join(f"{label} {value:.0%}" for label, value in p.per_class.items())
        print(
            f"{p.name:12} {p.photos if p.photos is not None else '-':>6} {p.files or '-':>5} "
            f"{_rate(p.heldout):>8} {_rate(p.heldout_without_unknown):>9} {p.named:7.1%} "
            f"{p.forced:7.1%} "
            f"{p.forced_without_unknown:7.1%} {'passed' if p.gate else 'FAILED':>6} "
            f"{p.wall:6.0f}  {per_class}"
        )
    print(
        "*: with the 'unknown' rule switched off (held-out*: every photo gets a label); "
        "named: held-out photos of the classes ImageNet names; 'unknown' counts as wrong"
    )
    day0 = next(p for p in points if p.photos is None)
    last = max((p for p in points if p.photos is not None), key=lambda p: p.photos or 0)
    beats = last.named > day0.named
    met = last.heldout is not None and last.heldout >= EVERYDAY_TARGET
    print(
        f"everyday, {last.photos} photos per class: held-out {_rate(last.heldout)} "
        f"(target >= {EVERYDAY_TARGET:.0%}: {'met' if met else 'MISSED'}); named classes "
        f"{last.named:.1%} vs day-0 {day0.named:.1%} ({'beats' if beats else 'DOES NOT beat'} "
        f"day-0); outside photos forced {last.forced:.1%} vs day-0 {day0.forced:.1%}"
    )


if __name__ == "__main__":
    sys.exit(main())
