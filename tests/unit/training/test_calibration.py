"""Temperature scaling, the calibration error and the choice of the "unknown" thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.model import calibrate, softmax
from training import calibration
from training.calibration import InClass, Outside


def overconfident(count: int, seed: int, sharpness: float) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of a 4-class model that is right about 70% of the time, drawn from a
    well calibrated model and then sharpened by `sharpness` (a known temperature)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (count, 4))
    truth_probabilities = softmax(logits)
    truth = np.array([rng.choice(4, p=p) for p in truth_probabilities])
    return calibrate(truth_probabilities, 1.0 / sharpness), truth


def test_temperature_scaling_recovers_the_sharpening_and_lowers_the_ece() -> None:
    probabilities, truth = overconfident(4000, seed=1, sharpness=2.5)
    temperature = calibration.fit_temperature(probabilities, truth)
    assert temperature == pytest.approx(2.5, rel=0.1)
    before = calibration.expected_calibration_error(probabilities, truth)
    after = calibration.expected_calibration_error(calibrate(probabilities, temperature), truth)
    assert before > 0.1 and after < 0.03


def test_a_calibrated_model_keeps_a_temperature_near_one() -> None:
    probabilities, truth = overconfident(4000, seed=2, sharpness=1.0)
    assert calibration.fit_temperature(probabilities, truth) == pytest.approx(1.0, rel=0.1)


def test_renderings_may_soften_a_head_but_never_sharpen_it() -> None:
    # Given a head that is too unsure on its validation split (T < 1 would fit it)
    underconfident, truth = overconfident(2000, seed=3, sharpness=0.5)
    # When the split is photos, the fitted temperature sharpens
    photos = calibration.fit_calibration(underconfident, truth, fitted_on="validation")
    assert photos.temperature == pytest.approx(0.5, rel=0.15)
    # When it is renderings, T stays at 1, and the fitted value is recorded beside it
    renderings = calibration.fit_calibration(
        underconfident, truth, fitted_on="validation", sharpen=False
    )
    assert renderings.temperature == 1.0
    assert renderings.details["fitted_temperature"] == pytest.approx(photos.temperature)
    # And an overconfident head is still softened
    sharp, truth = overconfident(2000, seed=4, sharpness=2.5)
    softened = calibration.fit_calibration(sharp, truth, fitted_on="validation", sharpen=False)
    assert softened.temperature == pytest.approx(2.5, rel=0.15)


def test_a_dozen_images_fit_no_temperature() -> None:
    probabilities, truth = overconfident(calibration.MIN_FIT_IMAGES - 1, seed=5, sharpness=3.0)
    fitted = calibration.fit_calibration(probabilities, truth, fitted_on="validation")
    assert fitted.temperature == 1.0
    assert fitted.details["too_few_to_fit"] == calibration.MIN_FIT_IMAGES


def test_reliability_bins_count_every_image_once() -> None:
    probabilities, truth = overconfident(500, seed=3, sharpness=2.0)
    bins = calibration.reliability(probabilities, truth, 10)
    assert sum(b.count for b in bins) == 500
    assert all(b.low <= b.confidence <= b.high for b in bins if b.count)
    fitted = calibration.fit_calibration(
        probabilities, truth, fitted_on="validation", checks={"photos": (probabilities, truth)}
    )
    assert fitted.details["ece_after"] < fitted.details["ece_before"]
    assert set(fitted.details["sets"]) == {"validation", "photos"}


def in_class_set(count: int, seed: int, other_high: float) -> InClass:
    """Confident, mostly right in-class images with low other-evidence (up to other_high)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, count)
    probabilities = np.full((count, 3), 0.05)
    probabilities[np.arange(count), truth] = 0.9
    wrong = np.flatnonzero(rng.random(count) < 0.1)
    probabilities[wrong] = 0.3
    probabilities[wrong, (truth[wrong] + 1) % 3] = 0.4  # unsure, and wrong
    return InClass(probabilities, rng.uniform(0.0, other_high, count), truth)


def test_the_rule_catches_outside_images_within_the_budget() -> None:
    validation = in_class_set(400, seed=4, other_high=0.5)
    rng = np.random.default_rng(5)
    outside = Outside(np.tile([0.9, 0.05, 0.05], (60, 1)), rng.uniform(0.4, 1.0, 60))
    rule = calibration.choose_unknown_rule(
        {"validation": validation}, outside, budget=0.02, has_other=True
    )
    assert rule.max_other is not None and 0.45 <= rule.max_other <= 0.6
    details = rule.details
    assert details["in_class"]["validation"]["correct_lost"] <= 0.02
    assert details["outside"]["caught"] >= 0.8


def test_every_in_class_set_keeps_its_budget() -> None:
    renderings = in_class_set(400, seed=6, other_high=0.3)
    photos = in_class_set(30, seed=7, other_high=0.8)  # real photos: more ImageNet doubt
    outside = Outside(np.tile([0.9, 0.05, 0.05], (40, 1)), np.linspace(0.5, 1.0, 40))
    rule = calibration.choose_unknown_rule(
        {"renderings": renderings, "photos": photos}, outside, budget=0.02, has_other=True
    )
    for name, found in rule.details["in_class"].items():
        given = {"renderings": renderings, "photos": photos}[name]
        correct = int((given.probabilities.argmax(axis=1) == given.truth).sum())
        assert round(found["correct_lost"] * correct) <= calibration.allowed(correct, 0.02)
    assert calibration.allowed(30, 0.02) == 0 and calibration.allowed(400, 0.02) == 8
    assert calibration.allowed(400, 0.0) == 0
    # 2% of 30 photos is no photo: the threshold sits above every correct photo
    correct = photos.other[photos.probabilities.argmax(axis=1) == photos.truth]
    assert rule.max_other is not None and (
        rule.max_other > correct.max() or rule.keep_confidence is not None
    )


def test_without_outside_images_only_errors_are_traded_and_a_zero_budget_disables() -> None:
    validation = in_class_set(400, seed=8, other_high=0.0)
    rule = calibration.choose_unknown_rule(
        {"validation": validation}, None, budget=0.02, has_other=False
    )
    assert rule.max_other is None and rule.min_confidence is not None
    assert rule.details["in_class"]["validation"]["errors_turned_unknown"] > 0.9
    off = calibration.choose_unknown_rule(
        {"validation": validation}, None, budget=0.0, has_other=False
    )
    assert not off.active


def test_too_few_photos_get_the_fixed_rule_with_what_it_did() -> None:
    # Given a dozen validation photos, one of them a correct photo with strong evidence of
    # something else but a sure label, one without, and photos of other things
    probabilities = np.array([[0.95, 0.03, 0.02]] * 6 + [[0.6, 0.3, 0.1]] * 6)
    other = np.array([0.1] * 5 + [0.95] + [0.2] * 5 + [0.92])
    validation = InClass(probabilities, other, np.zeros(12, np.int64))
    outside = Outside(np.tile([0.5, 0.3, 0.2], (4, 1)), np.array([0.99, 0.95, 0.91, 0.5]))
    # When the rule is the fixed one
    rule = calibration.fixed_unknown_rule(
        {"validation": validation}, outside, reason="fixed: a dozen photos"
    )
    # Then it has the fixed thresholds, whatever the photos say, and records what they did:
    # the sure photo is kept, the unsure one with the strong evidence is lost, 3 of 4 caught
    assert (rule.max_other, rule.min_confidence, rule.keep_confidence) == (0.9, None, 0.9)
    assert calibration.FEW_PHOTOS_RULE == (0.9, None, 0.9)
    assert rule.details["chosen_by"] == "fixed: a dozen photos"
    assert rule.details["in_class"]["validation"] == {
        "count": 12,
        "correct_lost": round(1 / 12, 4),
        "errors_turned_unknown": 0.0,
    }
    assert rule.details["outside"] == {"count": 4, "caught": 0.75}
