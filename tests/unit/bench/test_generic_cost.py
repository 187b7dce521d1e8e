"""bench/generic_cost.py's pure helpers on a tiny hand-made hierarchy (no timing asserted).

bench/ is not a package; the module is imported from the bench directory.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import generic_cost  # noqa: E402

from classifier.hierarchy import LabelHierarchy, LabelSettings  # noqa: E402
from classifier.imaging import InputSpec  # noqa: E402
from classifier.model import Classification  # noqa: E402
from classifier.quality import Quality, image_quality  # noqa: E402

SPEC = InputSpec(height=8, width=8)


def tiny_dict() -> dict[str, Any]:
    """Four classes: two dogs, a cat and a mug; `entity` is hidden."""
    return {
        "format": 1,
        "version": "tiny-1",
        "source": "hand-made",
        "classes": ["beagle", "pug", "tabby", "mug"],
        "nodes": {
            "entity": {"name": "entity", "hidden": True},
            "animal": {"name": "animal", "parents": ["entity"]},
            "dog": {"name": "dog", "parents": ["animal"]},
            "beagle": {"name": "beagle", "parents": ["dog"]},
            "pug": {"name": "pug", "parents": ["dog"]},
            "tabby": {"name": "tabby", "parents": ["animal"]},
            "mug": {"name": "mug", "parents": ["entity"]},
        },
    }


@pytest.fixture
def hierarchy() -> LabelHierarchy:
    return LabelHierarchy.from_dict(tiny_dict())


@pytest.fixture
def chosen(hierarchy: LabelHierarchy) -> generic_cost.Deciders:
    grouped = generic_cost.grouped_metadata(SPEC, {"dog": (0, 1), "cat": (2,)}, ((0, 2),))
    return generic_cost.deciders(grouped, hierarchy)


ARRAY = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
BEAGLE = np.asarray([6.0, 1.0, 0.0, 0.0], np.float32)  # mostly a beagle


def test_the_steps_are_the_model_decisions_with_and_without_the_hierarchy(
    chosen: generic_cost.Deciders,
) -> None:
    # Given the three deciders over one network's outputs
    calls = generic_cost.step_calls(lambda array: BEAGLE, chosen, ARRAY, LabelSettings())
    assert set(calls) == set(generic_cost.STEPS)
    # When each step runs once
    without, with_, generic = calls["without"](), calls["with"](), calls["generic"]()
    # Then without: the grouped decision alone, no generic labels, no quality
    assert isinstance(without, Classification)
    assert without.best.label == "dog" and without.generic == ()
    assert calls["+quality"]() == (without, image_quality(ARRAY))
    # And with: the same decision plus the hierarchy's labels, and the quality figures
    assert isinstance(with_, tuple)
    decision, quality = with_
    assert decision.best == without.best
    assert [label.name for label in decision.generic] == ["animal", "dog", "beagle"]
    assert quality == image_quality(ARRAY)
    # And generic: the generic labeller's most specific label
    assert isinstance(generic, tuple) and isinstance(generic[1], Quality)
    assert generic[0].best.label == "beagle"


def test_each_part_runs_alone_on_one_row(chosen: generic_cost.Deciders) -> None:
    calls = generic_cost.part_calls(chosen.generic, BEAGLE, ARRAY, LabelSettings())
    assert set(calls) == set(generic_cost.PARTS)
    sums = np.asarray(calls["sums"]())
    # animal, dog, beagle, pug, tabby, mug: the summed softmax of the four classes
    assert sums.shape == (6,) and sums[0] == pytest.approx(sums[2] + sums[3] + sums[4])
    assert calls["generic_labels"]() == chosen.generic.generic_labels(BEAGLE)
    primary = calls["primary"]()
    assert primary is not None and getattr(primary, "name", None) == "beagle"
    hierarchy = chosen.generic.hierarchy
    assert hierarchy is not None
    branches = hierarchy.branches(chosen.generic.generic_labels(BEAGLE))
    assert calls["second"]() == hierarchy.second_thing(branches)
    assert calls["quality"]() == image_quality(ARRAY)


def test_a_confident_row_is_labelled_at_every_level(chosen: generic_cost.Deciders) -> None:
    row = generic_cost.confident(np.zeros(4, np.float32), 1)
    assert row[1] == 8.0 and row[0] == 0.0
    names = [label.name for label in chosen.generic.generic_labels(row)]
    assert names == ["animal", "dog", "pug"]


def test_rounds_time_every_call_every_round() -> None:
    seen: list[str] = []
    samples = generic_cost.rounds({"a": lambda: seen.append("a"), "b": lambda: seen.append("b")}, 3)
    assert {name: len(values) for name, values in samples.items()} == {"a": 3, "b": 3}
    # one warm-up each, then the order rotates round by round
    assert seen == ["a", "b", "a", "b", "b", "a", "a", "b"]


def test_costs_and_the_added_line() -> None:
    p50 = {"sums": 0.05, "generic_labels": 0.13, "primary": 0.01, "second": 0.002, "quality": 0.16}
    costs = generic_cost.part_costs(p50)
    assert costs == pytest.approx(
        {"sums": 0.05, "selection": 0.08, "quality": 0.16, "primary": 0.01, "second": 0.002}
    )
    assert generic_cost.part_costs({**p50, "generic_labels": 0.01})["selection"] == 0.0
    line = generic_cost.added_line("generic labels", [5.0, 5.2, 5.1], [5.2, 5.5, 5.3], costs)
    assert line.startswith("generic labels: +0.20 ms p50 (paired +0.20; sums 0.050, ")
    assert "ratio 1.039 vs without" in line and line.endswith("ok")
    assert line.count("selection 0.080") == 1
    assert generic_cost.added_line("x", [1.0], [2.5], costs).endswith("MISSED")
    samples = {"without": [5.0, 5.0], "+quality": [5.3, 5.3], "with": [5.4, 5.4]}
    assert generic_cost.in_path(samples) == (
        "in the step (paired): quality +0.300 ms, hierarchy's labels +0.100 ms"
    )
    assert generic_cost.p50_p90([float(i) for i in range(1, 11)]) == (5.5, 10.0)


def test_cpu_summary_names_the_model_and_the_flags() -> None:
    lscpu = "Architecture: x86_64\nModel name:   AMD EPYC 9R14\nFlags: fpu sse avx2 avx512f\n"
    assert generic_cost.cpu_summary(lscpu) == "CPU: AMD EPYC 9R14, avx2 yes, avx512_vnni no"
    cpuinfo = "model name\t: Intel Xeon\nflags\t\t: avx2 avx512_vnni\nmodel name\t: Intel Xeon\n"
    assert generic_cost.cpu_summary(cpuinfo) == "CPU: Intel Xeon, avx2 yes, avx512_vnni yes"
    assert generic_cost.cpu_summary("") == "CPU: unknown, avx2 no, avx512_vnni no"
