"""A few-shot model's "unknown": what the fixed rule keeps and what it catches.

    .venv/bin/python bench/few_shot_unknown.py [--labels ball,fruit,musical_instrument,tool]
        [--photos 5 10] [--out bench/out/few-shot-unknown] [--seed 42]

A user's folder with a few photos a label has too few validation photos to choose the
"unknown" thresholds under the budget, so training gives the model the fixed rule
(training.calibration.FEW_PHOTOS_RULE). This bench trains what `imgclf train --data-dir DIR
--dataset folder --arch efficientnet_lite0` trains on `--photos` photos per label of some of
the everyday photo set's classes (training.datasets.everyday_photos), and scores each int8
artifact as the function runs it, with its rule and with no rule, on:
- the held-out photos of its labels (the share of the correct ones the rule takes);
- the held-out photos of the set's other classes: near things, never trained on (caught);
- photos of animals (the outside-photos set and the Animals-10 real photos' held-out split).
The rule's values were picked with these photos in view (docs/benchmarks.md, "A few-shot
model's unknown"), so they are not an unseen test of it. Figures only, never a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions")]

from bench.generic_cost import cpu_summary, cpu_text  # noqa: E402
from bench.training_accuracy import everyday_sets, train_few_shot  # noqa: E402
from classifier.artifact import UnknownRule  # noqa: E402
from classifier.artifact_files import read_metadata  # noqa: E402
from classifier.contracts import ARTIFACT_MODEL_FILE  # noqa: E402

if TYPE_CHECKING:  # training's modules load when a model is scored
    from classifier.artifact import ModelMetadata
    from training.evaluate import Int8Outputs

DEFAULT_LABELS = ("ball", "fruit", "musical_instrument", "tool")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=",".join(DEFAULT_LABELS))
    parser.add_argument("--photos", type=int, nargs="+", default=[5, 10])
    parser.add_argument("--out", type=Path, default=Path("bench/out/few-shot-unknown"))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    from training.datasets import everyday_photos

    labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    unknown = sorted(set(labels) - set(everyday_photos.CLASSES))
    if unknown or len(labels) < 2:
        parser.error(f"--labels: two or more of {', '.join(everyday_photos.CLASSES)}")
    root = everyday_photos.assemble()
    shutil.rmtree(args.out, ignore_errors=True)
    photos = args.out / "photos"
    for label in labels:
        shutil.copytree(root / "train" / label, photos / "train" / label)
    heldout, animals, animals_note = everyday_sets(root / "heldout", everyday_photos.CLASSES)
    names = np.array([everyday_photos.CLASSES[i] for i in heldout.label_ids])
    mine = np.isin(names, labels)
    near = heldout.images[~mine]
    print(cpu_summary(cpu_text()))
    print(f"labels: {', '.join(labels)}; {int(mine.sum())} held-out photos of them")
    print(f"near: {len(near)} held-out photos of {', '.join(sorted(set(names[~mine])))}")
    print(f"animals: {animals_note}")
    for count in args.photos:
        model_dir = _train(args.out / f"k{count}", photos / "train", count, args.seed, root)
        _report(count, model_dir, (heldout.images[mine], names[mine]), near, animals)
    return 0


def _train(out: Path, train_dir: Path, photos: int, seed: int, root: Path) -> Path:
    """What `imgclf train --dataset folder --arch efficientnet_lite0` trains on `photos`
    photos a label; its held-out set is the labels' held-out photos."""
    heldout = out / "heldout"
    for label_dir in sorted(train_dir.iterdir()):
        shutil.copytree(root / "heldout" / label_dir.name, heldout / label_dir.name)
    train_few_shot(out, train_dir, heldout, photos, seed, f"bench-few-shot-{photos}")
    return out / "model"


def _report(
    photos: int,
    model_dir: Path,
    own: tuple[np.ndarray, np.ndarray],
    near: np.ndarray,
    animals: np.ndarray,
) -> None:
    """One model's line: its rule, then with the rule and with none, the labels' correct
    held-out photos kept and the near and animal photos caught ("unknown")."""
    from training.evaluate import Int8Outputs

    metadata = read_metadata(model_dir)
    outputs = Int8Outputs((model_dir / ARTIFACT_MODEL_FILE).read_bytes(), metadata)
    images, names = own
    truth = np.array([metadata.labels.index(name) for name in names])
    print(f"\n{photos} photos a label: rule {metadata.unknown.summary() or 'none'}")
    print(f"  chosen by: {metadata.unknown.details.get('chosen_by', '?')}")
    for title, rule in (("fixed rule", metadata.unknown), ("no rule", UnknownRule())):
        decided = replace(metadata, unknown=rule)
        ids = outputs.label_ids(decided, images)
        right = int(np.sum(ids == truth))
        print(
            f"  {title:10}: held-out right {right}/{len(truth)} ({right / len(truth):.1%}), "
            f"near caught {_caught(outputs, decided, near):.1%}, "
            f"animals caught {_caught(outputs, decided, animals):.1%}"
        )


def _caught(outputs: Int8Outputs, metadata: ModelMetadata, images: np.ndarray) -> float:
    """The share of `images` the model calls "unknown"."""
    return float(np.mean(outputs.label_ids(metadata, images) == -1))


if __name__ == "__main__":
    sys.exit(main())
