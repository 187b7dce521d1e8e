"""Fit a model's decisions on held-out data: its calibration and its "unknown" rule.

Both are fitted on the int8 model's outputs as the function decodes them, so model.json's
figures are the function's. Training and the day-0 build call `fit_decisions` after the
int8 conversion and before any evaluation, so every figure after it counts "unknown".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from classifier.artifact import RULE_DISABLED, RULE_FIXED, ModelMetadata, OutputSpec, UnknownRule
from classifier.imaging import InputSpec
from classifier.model import Decider
from training import calibration, evalsets
from training.data import DataError, LoadedImages
from training.evaluate import Int8Outputs
from training.outside import calibration_photos

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Labelled:
    """Images with label ids in the model's label order."""

    images: np.ndarray
    truth: np.ndarray

    @classmethod
    def of(cls, loaded: LoadedImages) -> Labelled:
        return cls(loaded.images, loaded.label_ids)


def outside_images(
    outside_dir: Path | None,
    labels: tuple[str, ...],
    spec: InputSpec,
    output: OutputSpec | None = None,
) -> np.ndarray | None:
    """Photos of things outside the labels to choose the rule with: a folder given by the
    user; else real photographs that show none of the labels, those of the labels' own kind
    first (training.outside, for any label set), with the packaged photos of other animals
    when the labels are Animals-10's."""
    from training.datasets.animals10 import has_animals10

    if outside_dir is not None:
        try:
            return evalsets.load_outside(
                evalsets.OUTSIDE_CALIBRATION, outside_dir, spec
            ).images.images
        except (DataError, OSError, ValueError) as error:
            raise DataError(f"cannot read the outside photos in {outside_dir}: {error}") from None
    parts = []
    try:
        if has_animals10(labels):
            parts.append(evalsets.outside_set("calibration", spec).images.images)
        mapping = _mapping_of(output, labels)
        ranges = output.domain if output is not None else ()
        domain = [i for low, high in ranges for i in range(low, high + 1)]
        photos = calibration_photos(labels, mapping, domain)
        if photos:
            parts.append(evalsets.load_outside_files("outside", photos, spec).images.images)
    except (DataError, ImportError, OSError, RuntimeError, ValueError) as error:
        log.warning("no outside photos to choose 'unknown' with: %s", error)
    return np.concatenate(parts) if parts else None


def _mapping_of(output: OutputSpec | None, labels: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """The label -> ImageNet classes mapping an output spec records (empty: none)."""
    if output is None or not output.groups:
        return {}
    return {label: tuple(group) for label, group in zip(labels, output.groups, strict=False)}


def fit_decisions(
    metadata: ModelMetadata,
    raw: Int8Outputs,
    *,
    fit_on: tuple[str, Labelled],
    in_class: Mapping[str, Labelled],
    outside: np.ndarray | None,
    budget: float,
    checks: Mapping[str, Labelled] | None = None,
    use_confidence: bool = True,
    sharpen: bool = True,
    too_few: str = "",
) -> ModelMetadata:
    """`metadata` with `calibration` (temperature fitted on `fit_on`, ECE before and after
    on it and on `checks`; never below 1 without `sharpen`) and `unknown` (chosen on
    `in_class` and `outside`), from the int8 model's outputs `raw` (computed once per image
    array). `too_few` says why the in-class images cannot choose a rule under the budget:
    the rule is then calibration.FEW_PHOTOS_RULE, measured on them (`unknown_rule`)."""
    fit_name, fit_set = fit_on
    outputs = raw(fit_set.images).shape[1]
    decider = Decider(metadata, outputs)
    fitted = calibration.fit_calibration(
        decider.decoded(raw(fit_set.images)),
        fit_set.truth,
        fitted_on=fit_name,
        checks={
            name: (decider.decoded(raw(s.images)), s.truth)
            for name, s in (checks or {}).items()
            if len(s.truth) and bool(np.all(s.truth >= 0))
        },
        sharpen=sharpen,
    )
    calibrated = replace(metadata, calibration=fitted)
    decider = Decider(calibrated, outputs)
    has_other = bool(np.any(decider.other(raw(fit_set.images)) > 0))
    sets = {
        name: calibration.InClass(
            decider.probabilities(raw(s.images)), decider.other(raw(s.images)), s.truth
        )
        for name, s in in_class.items()
        if len(s.truth)
    }
    outside_set = (
        calibration.Outside(decider.probabilities(raw(outside)), decider.other(raw(outside)))
        if outside is not None and len(outside)
        else None
    )
    rule = unknown_rule(sets, outside_set, budget, has_other, use_confidence, too_few=too_few)
    log.info(
        "calibration: T=%.3f, ECE %s -> %s on %s; unknown: %s",
        fitted.temperature,
        fitted.details.get("ece_before"),
        fitted.details.get("ece_after"),
        fit_name,
        rule.summary() or "never",
    )
    return replace(calibrated, unknown=rule)


def unknown_rule(
    in_class: Mapping[str, calibration.InClass],
    outside: calibration.Outside | None,
    budget: float,
    has_other: bool,
    use_confidence: bool = True,
    *,
    too_few: str = "",
) -> UnknownRule:
    """The rule chosen on the held-out images; or, with too few of them to choose one
    (`too_few` says why), the fixed one when the outputs carry evidence of something else,
    else none (every image gets a label)."""
    if not too_few:
        return calibration.choose_unknown_rule(
            in_class, outside, budget=budget, has_other=has_other, use_confidence=use_confidence
        )
    if not has_other:
        why = (
            f"{RULE_DISABLED}: {too_few}, and its outputs give no evidence of something else "
            "(no ImageNet classes mapped onto its labels, no 'none of these' output); every "
            "image gets a label"
        )
        return UnknownRule(details={"chosen_by": why})
    max_other, _, keep = calibration.FEW_PHOTOS_RULE
    reason = (
        f"{RULE_FIXED}: {too_few}; 'unknown' only when the evidence of something else is "
        f"{max_other:g} or more and no label reaches {keep:g}"
    )
    return calibration.fixed_unknown_rule(in_class, outside, reason=reason, budget=budget)
