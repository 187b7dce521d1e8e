"""Confidences that mean what they say, and when to say "unknown": fitted on held-out data.

Pure numpy. Training and the day-0 build call these on the int8 model's decoded outputs
(`classifier.model.Decider`), so the numbers in model.json are the function's.

- `fit_temperature`: temperature scaling (Guo et al., "On Calibration of Modern Neural
  Networks", 2017): one scalar T that minimises the negative log-likelihood of the
  held-out labels; it changes no ranking, only how sure the model says it is.
- `expected_calibration_error`: the top-label ECE over equal-width confidence bins, and
  `reliability` the per-bin confidence and accuracy behind it (the report's diagram).
- `choose_unknown_rule`: the two thresholds of model.json's `unknown`, chosen on in-class
  held-out images and, when there are any, photos of things outside the labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from classifier.artifact import (
    CALIBRATION_TEMPERATURE,
    RULE_DISABLED,
    Calibration,
    UnknownRule,
)
from classifier.model import calibrate, unknown_flags
from training.train_config import DEFAULT_UNKNOWN_BUDGET

ECE_BINS = 15
RELIABILITY_BINS = 10
TEMPERATURE_RANGE = (0.05, 20.0)
# Fewer images than this cannot fit a temperature: a dozen photos gave T = 0.05 (the day-0
# model fits its T on 29).
MIN_FIT_IMAGES = 20
CONFIDENCE_GRID = tuple(round(0.05 * i, 2) for i in range(1, 19))  # 0.05 .. 0.90
KEEP_GRID = (0.9, 0.95, 0.98, 0.99, 0.995, 0.997, 0.998, 0.999, 0.9995)
# A rule's thresholds: max_other, min_confidence, keep_confidence (None: off).
Thresholds = tuple[float | None, float | None, float | None]
# The rule of a model whose held-out photos are too few to choose one under the budget (a
# few-shot folder: a validation split of a dozen photos cannot show a 1% loss): "unknown"
# only when the evidence of something else is 0.9 or more and no label reaches 0.9. Fitted
# on no model's photos; picked, round, beside few-shot models of everyday photos
# (docs/benchmarks.md): at 3 to 10 photos a label it took 1-8% of the labels' own correct
# held-out photos (13% at one photo a label) and caught 87-100% of animal photos and 54-61%
# of flowers and trees outside four labels, where no rule forces every one into a label.
FEW_PHOTOS_RULE: Thresholds = (0.9, None, 0.9)


def negative_log_likelihood(probabilities: np.ndarray, truth: np.ndarray) -> float:
    """Mean -log p(true label)."""
    picked = np.asarray(probabilities, np.float64)[np.arange(len(truth)), truth]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0))))


def fit_temperature(probabilities: np.ndarray, truth: np.ndarray) -> float:
    """The T in TEMPERATURE_RANGE minimising the NLL of calibrate(p, T): a log-spaced grid,
    then golden-section search around its best point (the NLL is unimodal in log T)."""
    if len(truth) == 0:
        return 1.0
    low, high = np.log(TEMPERATURE_RANGE[0]), np.log(TEMPERATURE_RANGE[1])

    def loss(log_t: float) -> float:
        return negative_log_likelihood(calibrate(probabilities, float(np.exp(log_t))), truth)

    grid = np.linspace(low, high, 41)
    best = int(np.argmin([loss(x) for x in grid]))
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(40):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if loss(c) <= loss(d):
            b = d
        else:
            a = c
    return round(float(np.exp((a + b) / 2)), 4)


@dataclass(frozen=True)
class Bin:
    """One confidence bin of a reliability diagram."""

    low: float
    high: float
    count: int
    confidence: float  # mean top probability in the bin
    accuracy: float  # fraction whose top label is right

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": round(self.low, 4),
            "high": round(self.high, 4),
            "count": self.count,
            "confidence": round(self.confidence, 4),
            "accuracy": round(self.accuracy, 4),
        }


def reliability(probabilities: np.ndarray, truth: np.ndarray, bins: int) -> list[Bin]:
    """Equal-width bins of the top probability, with their mean confidence and accuracy."""
    probabilities = np.asarray(probabilities, np.float64)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    found = []
    for i in range(bins):
        inside = which == i
        count = int(inside.sum())
        found.append(
            Bin(
                float(edges[i]),
                float(edges[i + 1]),
                count,
                float(confidence[inside].mean()) if count else 0.0,
                float(correct[inside].mean()) if count else 0.0,
            )
        )
    return found


def expected_calibration_error(
    probabilities: np.ndarray, truth: np.ndarray, bins: int = ECE_BINS
) -> float:
    """Top-label ECE: the count-weighted mean |accuracy - confidence| over the bins."""
    total = len(truth)
    if total == 0:
        return 0.0
    return float(
        sum(
            b.count * abs(b.accuracy - b.confidence)
            for b in reliability(probabilities, truth, bins)
        )
        / total
    )


def fit_calibration(
    probabilities: np.ndarray,
    truth: np.ndarray,
    *,
    fitted_on: str,
    checks: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    sharpen: bool = True,
) -> Calibration:
    """Temperature scaling fitted on (probabilities, truth), with the ECE before and after
    on that set and on every `checks` set (name -> (probabilities, truth)).

    Fewer than MIN_FIT_IMAGES images leave T at 1. Without `sharpen`, T stays at 1 or
    above: a temperature fitted on generated images (renderings) says how sure the head may
    be of renderings, and sharpening by it made a head trained on them certain of
    photographs it had never learnt (a real toucan: "dog", 1.00), past the evidence of the
    unknown rule."""
    too_few = len(truth) < MIN_FIT_IMAGES
    fitted = 1.0 if too_few else fit_temperature(probabilities, truth)
    temperature = fitted if sharpen else max(fitted, 1.0)
    sets = {fitted_on: (probabilities, truth), **dict(checks or {})}
    ece = {}
    for name, (p, t) in sets.items():
        if len(t) == 0:
            continue
        calibrated = calibrate(p, temperature)
        ece[name] = {
            "count": int(len(t)),
            "ece_before": round(expected_calibration_error(p, t), 4),
            "ece_after": round(expected_calibration_error(calibrated, t), 4),
            "reliability_before": [b.to_dict() for b in reliability(p, t, RELIABILITY_BINS)],
            "reliability_after": [
                b.to_dict() for b in reliability(calibrated, t, RELIABILITY_BINS)
            ],
        }
    on_fit = ece.get(fitted_on, {})
    return Calibration(
        method=CALIBRATION_TEMPERATURE,
        temperature=temperature,
        details={
            "fitted_on": fitted_on,
            "count": int(len(truth)),
            "ece_bins": ECE_BINS,
            "ece_before": on_fit.get("ece_before"),
            "ece_after": on_fit.get("ece_after"),
            **({} if sharpen else {"fitted_temperature": fitted, "sharpen": False}),
            **({"too_few_to_fit": MIN_FIT_IMAGES} if too_few else {}),
            "sets": ece,
        },
    )


@dataclass(frozen=True)
class InClass:
    """One in-class held-out set: calibrated probabilities, other-evidence and truth."""

    probabilities: np.ndarray
    other: np.ndarray
    truth: np.ndarray


@dataclass(frozen=True)
class Outside:
    """Images of things outside the labels: calibrated probabilities and other-evidence."""

    probabilities: np.ndarray
    other: np.ndarray


def _flags(
    probabilities: np.ndarray, other: np.ndarray, thresholds: tuple[float | None, ...]
) -> np.ndarray:
    return unknown_flags(probabilities.max(axis=1), other, *thresholds)


def allowed(correct: int, budget: float) -> int:
    """How many of a set's `correct` images "unknown" may take: the budget's share, rounded
    down (a set of 30 photos may lose none at 2%)."""
    return int(budget * correct + 1e-9)


def choose_unknown_rule(
    in_class: Mapping[str, InClass],
    outside: Outside | None,
    *,
    budget: float = DEFAULT_UNKNOWN_BUDGET,
    has_other: bool,
    use_confidence: bool = True,
) -> UnknownRule:
    """The thresholds that catch the most, losing at most `budget` of any in-class set's
    correctly labelled images (see `allowed`).

    Score = (share of outside images caught, when there are any) - (share of correct
    in-class images lost, averaged over the in-class sets); between equal scores, the rule
    that turns more in-class errors into "unknown" (an error the user can see beats a wrong
    label). Among equally good rules: the least aggressive (the lowest `min_confidence`, the
    lowest `keep_confidence`), then the middle of the equally good `max_other` values (away
    from both edges of what the calibration images could tell apart). Without
    `use_confidence`, only the evidence of something else decides (the day-0 model): no
    minimum confidence and no confidence that keeps a label against the evidence.
    """
    if budget <= 0 or not in_class:
        why = f"{RULE_DISABLED} (no budget or no held-out data)"
        return UnknownRule(details={"chosen_by": why})
    others = np.concatenate(
        [s.other for s in in_class.values()] + ([outside.other] if outside is not None else [])
    )
    other_grid: list[float | None] = [None]
    if has_other:
        other_grid += sorted(
            {round(float(v), 4) for v in np.quantile(others, np.linspace(0.02, 1, 99))}
        )
    confidence_grid: list[float | None] = [None, *CONFIDENCE_GRID] if use_confidence else [None]
    # A day-0 model's confidence comes from the same source mass as its evidence: nothing
    # independent of that evidence can vouch for a label, so nothing is kept against it.
    keep_grid: list[float | None] = [None, *KEEP_GRID] if has_other and use_confidence else [None]
    scored = []
    for max_other in other_grid:
        for keep in keep_grid if max_other is not None else [None]:
            for min_conf in confidence_grid:
                thresholds = (max_other, min_conf, keep)
                over, caught, lost, turned = _measure(thresholds, in_class, outside, budget)
                if over:
                    continue
                score = (
                    round(caught - float(np.mean(lost)), 9),
                    round(float(np.mean(turned)), 9),
                )
                scored.append((score, thresholds, caught, lost, turned))
    # One outside photo more or less is within the noise of a few dozen: among the rules
    # within one of the best, the one that loses the fewest in-class images.
    tolerance = 1.0 / len(outside.other) if outside is not None and len(outside.other) else 0.0
    top = max(s[0][0] for s in scored)
    near = [s for s in scored if s[0][0] >= top - tolerance - 1e-9]
    fewest = min(float(np.mean(s[3])) for s in near)
    near = [s for s in near if float(np.mean(s[3])) <= fewest + 1e-12]
    best_score = max(s[0] for s in near)
    best = [s for s in near if s[0] == best_score]
    # The least aggressive: the lowest min_confidence (None: off), the lowest
    # keep_confidence (it spares more; None spares nothing), then the middle of the equally
    # good max_other values.
    min_conf = min(-1.0 if s[1][1] is None else s[1][1] for s in best)
    best = [s for s in best if (-1.0 if s[1][1] is None else s[1][1]) == min_conf]
    keep = min(2.0 if s[1][2] is None else s[1][2] for s in best)
    best = [s for s in best if (2.0 if s[1][2] is None else s[1][2]) == keep]
    _, thresholds, caught, lost, turned = best[len(best) // 2]
    chosen_by = (
        f"the most caught for at most {budget:.0%} of each in-class set's correct images lost"
    )
    return _rule(thresholds, chosen_by, budget, (in_class, outside), (caught, lost, turned))


def fixed_unknown_rule(
    in_class: Mapping[str, InClass],
    outside: Outside | None,
    *,
    reason: str,
    budget: float = DEFAULT_UNKNOWN_BUDGET,
    thresholds: Thresholds = FEW_PHOTOS_RULE,
) -> UnknownRule:
    """`thresholds` as they are, not chosen (see FEW_PHOTOS_RULE), with what they did on
    the in-class and outside images there are; `reason` says why they were not chosen."""
    _, caught, lost, turned = _measure(thresholds, in_class, outside, budget)
    return _rule(thresholds, reason, budget, (in_class, outside), (caught, lost, turned))


def _measure(
    thresholds: Thresholds,
    in_class: Mapping[str, InClass],
    outside: Outside | None,
    budget: float,
) -> tuple[bool, float, list[float], list[float]]:
    """What a rule does: whether it takes more than the budget of any in-class set's correct
    images, the share of outside images it catches, and per in-class set the share of correct
    images it loses and of errors it turns into "unknown"."""
    lost, turned, over = [], [], False
    for s in in_class.values():
        flags = _flags(s.probabilities, s.other, thresholds)
        correct = s.probabilities.argmax(axis=1) == s.truth
        over |= int(flags[correct].sum()) > allowed(int(correct.sum()), budget)
        lost.append(float(flags[correct].mean()) if correct.any() else 0.0)
        turned.append(float(flags[~correct].mean()) if (~correct).any() else 0.0)
    caught = (
        float(_flags(outside.probabilities, outside.other, thresholds).mean())
        if outside is not None and len(outside.other)
        else 0.0
    )
    return over, caught, lost, turned


def _rule(
    thresholds: Thresholds,
    chosen_by: str,
    budget: float,
    sets: tuple[Mapping[str, InClass], Outside | None],
    measured: tuple[float, list[float], list[float]],
) -> UnknownRule:
    """model.json's `unknown`: the thresholds, how they were chosen, and what they did."""
    (in_class, outside), (caught, lost, turned) = sets, measured
    max_other, min_confidence, keep_confidence = thresholds
    return UnknownRule(
        max_other=max_other,
        min_confidence=min_confidence,
        keep_confidence=keep_confidence,
        details={
            "chosen_by": chosen_by,
            "budget": budget,
            "in_class": {
                name: {
                    "count": int(len(in_class[name].truth)),
                    "correct_lost": round(lost[i], 4),
                    "errors_turned_unknown": round(turned[i], 4),
                }
                for i, name in enumerate(in_class)
            },
            "outside": (
                {"count": int(len(outside.other)), "caught": round(caught, 4)}
                if outside is not None
                else None
            ),
        },
    )
