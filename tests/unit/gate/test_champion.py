"""Champion and challenger (gate.champion): the candidate against the live model, set by set."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gate.champion import (
    BETTER,
    DIFFERENT_DATA,
    NEW,
    NOT_COMPARED,
    SAME,
    WITHIN_MARGIN,
    WORSE,
    compare,
    comparison_lines,
    evaluations,
)

LABELS = ["cat", "dog", "horse"]
REAL = "sha256:real"
TEST = "sha256:test"


def model(
    version: str, labels: list[str] | None = None, **sets: tuple[str, float] | None
) -> dict[str, Any]:
    """A model.json with `metrics.evaluations` (set name -> (fingerprint, accuracy))."""
    metrics: dict[str, Any] = {"int8_accuracy": 0.9}
    if sets:
        metrics["evaluations"] = {
            name.replace("_", "-"): {
                "fingerprint": entry[0],
                "count": 500,
                "accuracy": entry[1],
                "float_accuracy": None,
            }
            for name, entry in sets.items()
            if entry is not None
        }
    return {"version": version, "labels": labels or LABELS, "metrics": metrics}


def test_worse_beyond_the_margin_is_refused_naming_the_set_and_numbers() -> None:
    # Given a candidate 6.8 pp worse than the live model on a shared set
    live = model("v3", real_photos=(REAL, 0.880), test=(TEST, 0.95))
    candidate = model("v4", real_photos=(REAL, 0.812), test=(TEST, 0.96))
    # When they are compared with the default 1 pp margin
    comparison = compare(candidate, live, max_regression_pp=1.0)
    # Then promotion is refused with one line for that set
    assert comparison.passed is False
    assert comparison.reasons == [
        "real-photos: 81.2% vs live 88.0% (-6.8 pp, more than the 1.0 pp allowed)"
    ]
    assert comparison.summary.startswith("worse than live model v3: real-photos: 81.2%")
    statuses = {row.set_name: row.status for row in comparison.rows}
    assert statuses == {"real-photos": WORSE, "test": BETTER}


@pytest.mark.parametrize(
    ("candidate_accuracy", "status"),
    [(0.875, WITHIN_MARGIN), (0.87, WITHIN_MARGIN), (0.88, SAME), (0.93, BETTER)],
)
def test_within_the_margin_or_better_passes(candidate_accuracy: float, status: str) -> None:
    # Given a candidate at most 1 pp worse than, equal to, or better than the live model
    live = model("v3", real_photos=(REAL, 0.88))
    candidate = model("v4", real_photos=(REAL, candidate_accuracy))
    # When they are compared
    comparison = compare(candidate, live, max_regression_pp=1.0)
    # Then it passes (exactly 1.0 pp is allowed, float noise notwithstanding)
    assert comparison.passed is True
    assert comparison.reasons == []
    assert comparison.rows[0].status == status
    assert "no regression beyond 1.0 pp against live model v3 on 1 shared set" in (
        comparison.summary
    )


def test_a_different_fingerprint_is_not_a_shared_set() -> None:
    # Given the same set name evaluated on different data
    live = model("v3", real_photos=("sha256:old", 0.95))
    candidate = model("v4", real_photos=("sha256:new", 0.70))
    # When they are compared
    comparison = compare(candidate, live, max_regression_pp=1.0)
    # Then the drop does not count, and the set is listed as not compared
    assert comparison.passed is True
    assert comparison.rows[0].status == DIFFERENT_DATA
    assert comparison.rows[0].delta_pp is None
    assert "fingerprints differ" in comparison.notes[0]


def test_different_labels_are_not_comparable() -> None:
    # Given models over different label lists
    live = model("v3", real_photos=(REAL, 0.95))
    candidate = model("v4", labels=["cat", "dog"], real_photos=(REAL, 0.50))
    # When they are compared
    comparison = compare(candidate, live, max_regression_pp=1.0)
    # Then there is nothing to compare, which is said and allowed
    assert (comparison.passed, comparison.comparable, comparison.rows) == (True, False, [])
    assert comparison.summary == "labels differ from live model v3: nothing to compare"


@pytest.mark.parametrize(
    ("live", "summary"),
    [
        (None, "nothing is live: nothing to compare"),
        (model("v3"), "live model v3 has no evaluations: nothing to compare"),
    ],
)
def test_nothing_live_or_no_live_evaluations_passes(
    live: dict[str, Any] | None, summary: str
) -> None:
    candidate = model("v4", real_photos=(REAL, 0.10))
    comparison = compare(candidate, live, max_regression_pp=1.0)
    # Then it passes and says why nothing was compared
    assert (comparison.passed, comparison.comparable) == (True, False)
    assert comparison.summary == summary
    assert comparison.notes == [summary]


def test_a_live_set_the_candidate_lacks_is_listed_as_not_compared() -> None:
    # Given a live model evaluated on a set the candidate was not, and a set only it has
    live = model("v3", real_photos=(REAL, 0.95), test=(TEST, 0.9))
    candidate = model("v4", test=(TEST, 0.9), emoji_renderings=("sha256:emoji", 0.99))
    # When they are compared
    comparison = compare(candidate, live, max_regression_pp=1.0)
    # Then it passes, and the missing set is listed rather than silently dropped
    assert comparison.passed is True
    statuses = {row.set_name: row.status for row in comparison.rows}
    assert statuses == {"emoji-renderings": NEW, "real-photos": NOT_COMPARED, "test": SAME}
    assert comparison.notes == [
        "real-photos: not compared (live 95.0%; the candidate was not evaluated on it)"
    ]


def test_a_wider_margin_lets_a_bigger_drop_pass() -> None:
    live = model("v3", real_photos=(REAL, 0.880))
    candidate = model("v4", real_photos=(REAL, 0.812))
    assert compare(candidate, live, max_regression_pp=7.0).passed is True
    with pytest.raises(ValueError, match=">= 0"):
        compare(candidate, live, max_regression_pp=-1)


def test_malformed_entries_are_ignored() -> None:
    # Given evaluations with a missing fingerprint, a boolean accuracy and a non-object entry
    metadata = {
        "metrics": {
            "evaluations": {
                "a": {"accuracy": 0.9},
                "b": {"fingerprint": "f", "accuracy": True},
                "c": "0.9",
                "d": {"fingerprint": "f", "accuracy": 1, "count": "many"},
            }
        }
    }
    # Then only the usable one is read
    found = evaluations(metadata)
    assert list(found) == ["d"]
    assert (found["d"].accuracy, found["d"].count) == (1.0, None)


def test_comparison_renders_as_text_json_and_escaped_html() -> None:
    # Given a set name that is not safe in HTML
    unsafe: dict[str, Any] = {"<b>&": (REAL, 0.9)}
    live = model("v3", **unsafe)
    candidate = model("v4<script>", **{**unsafe, "<b>&": (REAL, 0.8)})
    comparison = compare(candidate, live, max_regression_pp=1.0)
    # Then the text has the summary then one line per set
    lines = comparison_lines(comparison)
    assert lines[0] == comparison.summary
    assert lines[1] == "<b>&: 80.0% vs live 90.0% (-10.0 pp, more than the 1.0 pp allowed)"
    # And the dict is JSON-ready
    assert json.loads(json.dumps(comparison.to_dict()))["rows"][0]["status"] == WORSE


def test_a_candidate_forcing_more_outside_photos_into_a_class_is_refused() -> None:
    # outside-photos' accuracy is the share said "unknown": forcing more is a regression,
    # whatever the in-class sets say; both figures are reported
    outside = "sha256:outside"
    live = model("v5", real_photos=(REAL, 0.865), outside_photos=(outside, 0.837))
    candidate = model("v6", real_photos=(REAL, 0.892), outside_photos=(outside, 0.755))
    comparison = compare(candidate, live, max_regression_pp=1.0)
    assert comparison.passed is False
    assert comparison.reasons == [
        "outside-photos: 75.5% vs live 83.7% (-8.2 pp, more than the 1.0 pp allowed)"
    ]
    lines = comparison_lines(comparison)
    assert any(line.startswith("real-photos: 89.2% vs live 86.5%") for line in lines)


def test_on_a_small_set_one_image_is_within_the_margin_and_two_are_not() -> None:
    def on_37(version: str, right: int) -> dict[str, Any]:
        entry = {"fingerprint": REAL, "count": 37, "accuracy": right / 37}
        return {"version": version, "labels": LABELS, "metrics": {"evaluations": {"p": entry}}}

    # One photo of 37 is 2.7 pp: within what the set can tell apart
    one = compare(on_37("v2", 31), on_37("v1", 32))
    assert one.passed and one.rows[0].status == WITHIN_MARGIN
    assert "within the 2.7 pp allowed" in comparison_lines(one)[1]
    # Two photos are not
    two = compare(on_37("v2", 30), on_37("v1", 32))
    assert not two.passed and "more than the 2.7 pp allowed" in two.reasons[0]
    # A large set keeps the 1 pp margin
    assert not compare(
        model("v2", real_photos=(REAL, 0.88)), model("v1", real_photos=(REAL, 0.9))
    ).passed
