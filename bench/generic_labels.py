"""Generic labels on real photographs: per-word recall and precision of `imgclf results --label`.

    .venv/bin/python bench/generic_labels.py [--model-dir DIR] [--min-words 3] [--min-evidence E]
        [--set generic|animals|everyday]

Runs the generic labeller (this code version's, from the imgclf home's cache:
imgclf.model_generic.home_generic; or the unpacked one --model-dir names) on the generic
photo set (training/datasets/generic_photos.py), and scores every annotated word that the
hierarchy names and that at least --min-words photos of the split carry, the way the results
query finds images: an image is found by WORD when its `label` (the most specific label of
its most confident branch, index by_label) or its `second_label` (another kind of thing's,
by_second_label) is WORD's node or under it; `--by labels` scores "WORD is among the item's
labels" instead. Each minimum confidence is scored on the `tune` split (to choose it) and
the `heldout` split (to report it), with the hierarchy's consistency (no label above its
parent) checked on every image. Every minimum is scored with the default evidence rule (hierarchy.
DEFAULT_MIN_EVIDENCE, or --min-evidence; 0 turns it off), and the per-word table is at the
default minimum (hierarchy.DEFAULT_MIN_CONFIDENCE). `--set animals` scores the animal photo
set instead (one split, truth from each photo's animal: `animal_photo_words`), and
`--set everyday` the everyday photo set's heldout photos (balls, flowers, fruit, musical
instruments, tools; truth from each photo's class: `everyday_photo_words`). `--flip` scores
test-time augmentation, which the function does not do: each photo is also run mirrored,
and the two softmaxes averaged (`flip_averaged`), at twice the inference. `--temperature T`
divides the logits by T before anything else reads them (T > 1 spreads the probability over
more classes, T < 1 sharpens it); the generic model's is 1. `--words dog,cat,...` scores
only those words (each still needs --min-words photos): for example the issue's own
examples, `--words dog,cat,bird,insect,animal,cup,clock,balloon --min-words 1`. Each word's
line ends with how many photos carry it. The first line names the artifact scored: its
version, its network's sha256 and its hierarchy (`scored_model`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from classifier.artifact import ModelMetadata  # noqa: E402
from classifier.contracts import ARTIFACT_MODEL_FILE  # noqa: E402
from classifier.hierarchy import (  # noqa: E402
    DEFAULT_MAX_LABELS,
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_MIN_EVIDENCE,
    LabelHierarchy,
    LabelSettings,
)
from classifier.imaging import ImageLimits, prepare_image  # noqa: E402
from classifier.model import LoadedModel, softmax  # noqa: E402
from training.datasets import everyday_photos, generic_photos  # noqa: E402
from training.datasets import photos as animal_photos  # noqa: E402
from training.generic_eval import query_scores  # noqa: E402

# The everyday words the animal photo set is scored on (--set animals).
ANIMAL_WORDS = (
    *("dog", "cat", "horse", "sheep", "cow", "elephant", "butterfly", "chicken", "squirrel"),
    *("spider", "bird", "insect", "mammal", "animal", "fish", "reptile", "monkey", "bear"),
)
# The everyday words the everyday photo set is scored on (--set everyday).
EVERYDAY_WORDS = ("ball", "flower", "fruit", "musical instrument", "tool", "plant")
THRESHOLDS = (0.1, 0.125, 0.15, 0.175, 0.2, 0.25, 0.3, 0.4, 0.5)


def found_words(
    hierarchy: LabelHierarchy,
    names: Sequence[str],
    indexed: Sequence[str] | None,
    words: Sequence[str],
) -> set[str]:
    """The query words that find an image with these generic labels: through its indexed
    labels (label and second_label) when given, else by its labels themselves."""
    found = set()
    for word in words:
        node = hierarchy.search(word)  # as the CLI resolves it: a label, or a hidden word
        if node is None:
            continue
        if indexed is not None or node.hidden:
            for name in indexed if indexed is not None else names:
                target = hierarchy.find(name)
                if target is not None and (
                    target.id == node.id or node.id in hierarchy.ancestors[target.id]
                ):
                    found.add(word)
        elif node.name in names:
            found.add(word)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--min-words", type=int, default=3)
    parser.add_argument("--by", choices=("label", "labels"), default="label")
    parser.add_argument("--min-evidence", type=float, default=DEFAULT_MIN_EVIDENCE)
    parser.add_argument("--set", choices=("generic", "animals", "everyday"), default="generic")
    parser.add_argument("--flip", action="store_true", help="average with the mirrored image")
    parser.add_argument("--temperature", type=float, default=1.0, help="divide the logits by T")
    parser.add_argument("--words", type=_word_list, help="comma-separated: score only these")
    args = parser.parse_args(argv)
    if not args.temperature > 0:
        parser.error("--temperature must be above 0")
    if args.model_dir is None:
        from imgclf.model_generic import home_generic

        model = LoadedModel.from_directory(home_generic().model_dir)
    else:
        model = LoadedModel.from_directory(args.model_dir)
    hierarchy = model.hierarchy
    assert hierarchy is not None
    print(scored_model(model.metadata))
    if args.set == "animals":
        score_split(model, hierarchy, "animals", animal_photo_words(hierarchy), args)
        return 0
    if args.set == "everyday":
        score_split(model, hierarchy, "everyday", everyday_photo_words(hierarchy), args)
        return 0
    for split in ("tune", "heldout"):
        score_split(model, hierarchy, split, generic_photos.photo_words(split), args)
    return 0


def animal_photo_words(hierarchy: LabelHierarchy) -> dict[Path, frozenset[str]]:
    """The animal photo set (training.datasets.photos: the Animals-10 train and heldout
    photos, and the outside photos whose animal the hierarchy names), each with the words of
    ANIMAL_WORDS at or above its animal. Neither default was chosen on it."""
    shown = [
        (path, folder.name)
        for root in (animal_photos.train_dir(), animal_photos.heldout_dir())
        for folder in sorted(root.iterdir())
        for path in sorted(folder.iterdir())
    ]
    shown += [
        pair for split in ("calibration", "heldout") for pair in animal_photos.outside_photos(split)
    ]
    return words_at_or_above(hierarchy, shown, ANIMAL_WORDS)


def everyday_photo_words(hierarchy: LabelHierarchy) -> dict[Path, frozenset[str]]:
    """The everyday photo set's heldout photos (training.datasets.everyday_photos), each with
    the words of EVERYDAY_WORDS at or above its class. Its trees are left out: no ImageNet
    class is a tree, so the hierarchy cannot say which words sit above one. Neither default
    was chosen on this set; some of its photos are in the generic set too."""
    root = everyday_photos.assemble()
    shown = [
        (root / photo.relative_path(), photo.label)
        for photo in everyday_photos.load_manifest()
        if photo.split == "heldout"
    ]
    return words_at_or_above(hierarchy, shown, EVERYDAY_WORDS)


def words_at_or_above(
    hierarchy: LabelHierarchy, shown: Sequence[tuple[Path, str]], words: Sequence[str]
) -> dict[Path, frozenset[str]]:
    """Each photo whose thing (a class name) the hierarchy names, with the `words` whose
    node is that thing's or above it; a photo of a thing it cannot name is left out."""
    found = {}
    for path, thing in shown:
        node = hierarchy.find(thing.replace("_", " "))
        if node is None:
            continue
        lineage = {node.id, *hierarchy.ancestors[node.id]}
        found[path] = frozenset(
            word for word in words if (named := hierarchy.search(word)) and named.id in lineage
        )
    return found


def score_split(
    model: LoadedModel,
    hierarchy: LabelHierarchy,
    split: str,
    photos: dict[Path, frozenset[str]],
    args: argparse.Namespace,
) -> None:
    """Print the macro recall and precision at each threshold, per word at the default, and
    the split's acceptance line (`verdict`)."""
    counts: dict[str, int] = {}
    for words in photos.values():
        for word in words:
            counts[word] = counts.get(word, 0) + 1
    queries, unplaced = scored_words(counts, hierarchy, args.min_words, args.words)
    raws = raw_outputs(model, photos, args)
    print(f"\n{split}: {len(photos)} photos, {len(queries)} words with >= {args.min_words}")
    print(f"  words the hierarchy does not name (not scored): {', '.join(unplaced) or 'none'}")
    rare = [w for w in args.words or () if counts.get(w, 0) < args.min_words]
    if rare:
        few = "no photo" if args.min_words == 1 else f"fewer than {args.min_words} photos"
        print(f"  words asked for, on {few} (not scored): {', '.join(rare)}")
    at_default: dict[str, Any] = {"macro_recall": None, "macro_precision": None}
    for threshold in THRESHOLDS:
        settings = LabelSettings(threshold, DEFAULT_MAX_LABELS, args.min_evidence)
        predicted = {}
        inconsistent = 0
        for path, raw in raws.items():
            decided = model.decider.classification(raw, labelling=settings)
            labels = decided.generic
            names = [label.name for label in labels]
            confidence = {label.name: label.confidence for label in labels}
            inconsistent += sum(
                confidence[name] > confidence[parent] + 1e-9
                for name in names
                for parent in hierarchy.parent_names(name)
                if parent in confidence
            )
            # What the item is indexed under: its label and its second label, if any.
            indexed = [name for name in (decided.best.label, decided.second) if name in names]
            by_index = indexed if args.by == "label" else None
            predicted[str(path)] = found_words(hierarchy, names, by_index, queries)
        annotations = {str(path): set(words) for path, words in photos.items()}
        scores = query_scores(annotations, predicted, queries)
        print(
            f"  min {threshold:<5g}: recall {scores['macro_recall']:.1%}, "
            f"precision {scores['macro_precision']:.1%}, inconsistent {inconsistent}"
        )
        if threshold == DEFAULT_MIN_CONFIDENCE:
            at_default = scores
            for word in queries:
                entry = scores["words"][word]
                print(
                    f"      {word:20} {_pct(entry['recall'])} {_pct(entry['precision'])}"
                    f"  ({_photos(entry['annotated'])})"
                )
    print(verdict(split, at_default))


def raw_outputs(
    model: LoadedModel, photos: dict[Path, frozenset[str]], args: argparse.Namespace
) -> dict[Path, np.ndarray]:
    """Each photo's logits as the function computes them (mirrored and averaged with
    --flip), divided by --temperature."""
    raws = {}
    for path in photos:
        prepared = prepare_image(path.read_bytes(), model.spec, ImageLimits())
        raw = (
            flip_averaged(model.raw(prepared.array), model.raw(prepared.array[:, ::-1]))
            if args.flip
            else model.raw(prepared.array)
        )
        raws[path] = np.asarray(raw, np.float64) / args.temperature
    return raws


def scored_model(metadata: ModelMetadata) -> str:
    """Which artifact is scored: its version, its network's digest and its hierarchy. The
    same code can build different int8 bytes on different machines (docs/benchmarks.md), so
    a run's figures belong to this digest."""
    network = metadata.files.get(ARTIFACT_MODEL_FILE)
    digest = f"{ARTIFACT_MODEL_FILE} sha256 {network.sha256[:12]}" if network else "no digests"
    tree = metadata.hierarchy.version if metadata.hierarchy else "none"
    return f"model {metadata.version}: {digest}, hierarchy {tree}"


TARGET = 0.90  # the acceptance: macro recall and precision, each


def verdict(split: str, scores: dict[str, Any]) -> str:
    """The acceptance line of a split at the defaults: its macro recall and precision
    against TARGET, met or not."""
    recall, precision = scores["macro_recall"] or 0.0, scores["macro_precision"] or 0.0
    met = "met" if recall >= TARGET and precision >= TARGET else "NOT met"
    return (
        f"{split} at the defaults: recall {recall:.1%}, precision {precision:.1%} "
        f"(target >= {TARGET:.0%} each: {met})"
    )


def scored_words(
    counts: dict[str, int],
    hierarchy: LabelHierarchy,
    min_words: int,
    words: Sequence[str] | None = None,
) -> tuple[list[str], list[str]]:
    """(the words to score, the words left out because the hierarchy names none of them):
    those at least `min_words` photos carry, of `words` when given."""
    wanted = [w for w, n in counts.items() if n >= min_words and (words is None or w in words)]
    return (
        sorted(w for w in wanted if hierarchy.search(w)),
        sorted(w for w in wanted if not hierarchy.search(w)),
    )


def _word_list(text: str) -> list[str]:
    words = [w.strip() for w in text.split(",") if w.strip()]
    if not words:
        raise argparse.ArgumentTypeError("name at least one word")
    return words


def flip_averaged(raw: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """Logits whose softmax is the mean of two images' softmaxes (an image and its mirror)."""
    mean = (softmax(np.asarray(raw, np.float64)) + softmax(np.asarray(mirrored, np.float64))) / 2
    logits: np.ndarray = np.log(np.maximum(mean, np.finfo(np.float64).tiny))
    return logits


def _photos(count: int) -> str:
    return f"{count} photo" if count == 1 else f"{count} photos"


def _pct(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.1%}"


if __name__ == "__main__":
    sys.exit(main())
