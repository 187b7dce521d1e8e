"""Champion and challenger: a candidate model against the live one, set by set.

Training records in model.json `metrics.evaluations` one entry per evaluation set:
`{"<set>": {"fingerprint": "sha256:…", "count": n, "accuracy": int8 top-1, …}}`. Two models
share a set when both carry its name with the same fingerprint and have the same `labels`.
The candidate may not be worse than the live model on a shared set by more than
`max_regression_pp` percentage points, or one image of the set when that is more: a set of
37 photos cannot tell apart two models one photo apart (retraining alone moves a model by
that much), so there the margin is 2.7 pp.

Pure and standard library only: the gate Lambda imports it as a plain module beside gate.py
in its zip, and the CLI (`imgclf model promote`) as `gate.champion`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_MAX_REGRESSION_PP = 1.0
EVALUATIONS_KEY = "evaluations"  # inside model.json's `metrics`

# Row statuses.
BETTER = "better"
SAME = "same"
WITHIN_MARGIN = "within margin"
WORSE = "worse"
NOT_COMPARED = "not compared"  # the live model was evaluated on it, the candidate was not
DIFFERENT_DATA = "different data"  # same set name, another fingerprint
NEW = "new"  # only the candidate was evaluated on it


@dataclass(frozen=True)
class Evaluation:
    """One usable `metrics.evaluations` entry."""

    fingerprint: str
    accuracy: float
    count: int | None


@dataclass(frozen=True)
class Row:
    """One evaluation set of either model; accuracies are fractions, the delta is in pp."""

    set_name: str
    candidate_accuracy: float | None
    live_accuracy: float | None
    delta_pp: float | None
    count: int | None
    status: str


@dataclass(frozen=True)
class Comparison:
    """The verdict: `passed` is False only when a shared set regressed beyond the margin."""

    passed: bool
    comparable: bool
    summary: str
    max_regression_pp: float
    candidate_version: str
    live_version: str | None
    rows: list[Row] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # one line per set that regressed
    notes: list[str] = field(default_factory=list)  # why nothing, or a set, was not compared

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the state machine's history and the reports."""
        return asdict(self)


def evaluations(metadata: Mapping[str, Any] | None) -> dict[str, Evaluation]:
    """The usable `metrics.evaluations` entries of a model.json (malformed ones are left out)."""
    metrics = (metadata or {}).get("metrics")
    raw = metrics.get(EVALUATIONS_KEY) if isinstance(metrics, Mapping) else None
    found: dict[str, Evaluation] = {}
    for name, entry in raw.items() if isinstance(raw, Mapping) else []:
        if not isinstance(entry, Mapping):
            continue
        accuracy, fingerprint, count = (
            entry.get("accuracy"),
            entry.get("fingerprint"),
            entry.get("count"),
        )
        if isinstance(accuracy, bool) or not isinstance(accuracy, int | float):
            continue
        if not isinstance(fingerprint, str) or not fingerprint:
            continue
        usable_count = count if isinstance(count, int) and not isinstance(count, bool) else None
        found[str(name)] = Evaluation(fingerprint, float(accuracy), usable_count)
    return found


def compare(
    candidate: Mapping[str, Any],
    live: Mapping[str, Any] | None,
    *,
    max_regression_pp: float = DEFAULT_MAX_REGRESSION_PP,
) -> Comparison:
    """Compare the candidate's model.json with the live model's (None: nothing is live)."""
    if max_regression_pp < 0:
        raise ValueError(f"max_regression_pp must be >= 0, got {max_regression_pp}")
    candidate_version = str(candidate.get("version", "?"))
    if live is None:
        return _nothing_to_compare(
            candidate_version, None, max_regression_pp, "nothing is live: nothing to compare"
        )
    live_version = str(live.get("version", "?"))
    live_sets = evaluations(live)
    if not live_sets:
        return _nothing_to_compare(
            candidate_version,
            live_version,
            max_regression_pp,
            f"live model {live_version} has no evaluations: nothing to compare",
        )
    if list(candidate.get("labels") or []) != list(live.get("labels") or []):
        return _nothing_to_compare(
            candidate_version,
            live_version,
            max_regression_pp,
            f"labels differ from live model {live_version}: nothing to compare",
        )

    candidate_sets = evaluations(candidate)
    rows = [
        _row(name, candidate_sets.get(name), live_sets.get(name), max_regression_pp)
        for name in sorted(candidate_sets.keys() | live_sets.keys())
    ]
    reasons = [row_line(row, max_regression_pp) for row in rows if row.status == WORSE]
    notes = [
        row_line(row, max_regression_pp)
        for row in rows
        if row.status in (NOT_COMPARED, DIFFERENT_DATA)
    ]
    shared = sum(row.status in (BETTER, SAME, WITHIN_MARGIN, WORSE) for row in rows)
    if reasons:
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        summary = f"worse than live model {live_version}: {reasons[0]}{more}"
    elif shared:
        summary = (
            f"no regression beyond {max_regression_pp:.1f} pp against live model "
            f"{live_version} on {shared} shared set{'s' if shared != 1 else ''}"
        )
    else:
        summary = f"no evaluation set shared with live model {live_version}: nothing to compare"
    return Comparison(
        passed=not reasons,
        comparable=True,
        summary=summary,
        max_regression_pp=max_regression_pp,
        candidate_version=candidate_version,
        live_version=live_version,
        rows=rows,
        reasons=reasons,
        notes=notes,
    )


def _nothing_to_compare(
    candidate_version: str, live_version: str | None, max_regression_pp: float, note: str
) -> Comparison:
    return Comparison(
        passed=True,
        comparable=False,
        summary=note,
        max_regression_pp=max_regression_pp,
        candidate_version=candidate_version,
        live_version=live_version,
        notes=[note],
    )


def _row(
    name: str, candidate: Evaluation | None, live: Evaluation | None, max_regression_pp: float
) -> Row:
    if candidate is None:
        assert live is not None
        return Row(name, None, live.accuracy, None, live.count, NOT_COMPARED)
    if live is None:
        return Row(name, candidate.accuracy, None, None, candidate.count, NEW)
    if candidate.fingerprint != live.fingerprint:
        return Row(name, candidate.accuracy, live.accuracy, None, candidate.count, DIFFERENT_DATA)
    # Rounded so that 0.87 vs 0.88 is 1.0 pp, not 1.0000000000000009.
    delta_pp = round((candidate.accuracy - live.accuracy) * 100, 6)
    if delta_pp < -allowed_pp(candidate.count, max_regression_pp):
        status = WORSE
    elif delta_pp < 0:
        status = WITHIN_MARGIN
    else:
        status = BETTER if delta_pp > 0 else SAME  # an identical score was shown as "better"
    return Row(name, candidate.accuracy, live.accuracy, delta_pp, candidate.count, status)


def allowed_pp(count: int | None, max_regression_pp: float) -> float:
    """The regression a set of `count` images allows: the margin, or one image of the set."""
    one_image = 100.0 / count if count else 0.0
    return round(max(max_regression_pp, one_image), 6)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def row_line(row: Row, max_regression_pp: float) -> str:
    """One set as a sentence, e.g. `real-photos: 81.2% vs live 88.0% (-6.8 pp, more than…)`."""
    candidate, live = _percent(row.candidate_accuracy), _percent(row.live_accuracy)
    if row.status == NOT_COMPARED:
        return f"{row.set_name}: not compared (live {live}; the candidate was not evaluated on it)"
    if row.status == NEW:
        return f"{row.set_name}: {candidate} (new: the live model was not evaluated on it)"
    if row.status == DIFFERENT_DATA:
        return (
            f"{row.set_name}: not compared ({candidate} vs live {live} on different data: "
            "the fingerprints differ)"
        )
    assert row.delta_pp is not None
    delta = f"{row.delta_pp:+.1f} pp"
    allowed = allowed_pp(row.count, max_regression_pp)
    if row.status == WORSE:
        detail = f"{delta}, more than the {allowed:.1f} pp allowed"
    elif row.status == WITHIN_MARGIN:
        detail = f"{delta}, within the {allowed:.1f} pp allowed"
    else:
        detail = delta
    return f"{row.set_name}: {candidate} vs live {live} ({detail})"


def comparison_lines(comparison: Comparison) -> list[str]:
    """The comparison as text: the summary, then one line per set."""
    return [comparison.summary] + [
        row_line(row, comparison.max_regression_pp) for row in comparison.rows
    ]


COLUMNS = ("set", "candidate", "live", "Δ pp", "images", "status")


def row_cells(row: Row) -> tuple[str, ...]:
    """A row's cells under COLUMNS, as the CLI table and the HTML table show them."""
    return (
        row.set_name,
        _percent(row.candidate_accuracy),
        _percent(row.live_accuracy),
        "-" if row.delta_pp is None else f"{row.delta_pp:+.1f}",
        "-" if row.count is None else str(row.count),
        row.status,
    )
