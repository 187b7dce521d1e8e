"""A trained model whose held-out photos are too few to choose its "unknown" rule gets the
fixed one when its outputs carry evidence of something else, and none when they do not."""

from __future__ import annotations

import numpy as np

from training import calibration
from training.calibration import InClass, Outside
from training.decisions import unknown_rule

WHY = "12 validation images cannot show that 'unknown' takes at most 1% (it needs 100)"


def sets() -> tuple[dict[str, InClass], Outside]:
    validation = InClass(
        np.array([[0.95, 0.05]] * 10 + [[0.55, 0.45]] * 2),
        np.array([0.05] * 10 + [0.95, 0.2]),
        np.zeros(12, np.int64),
    )
    return {"validation": validation}, Outside(np.tile([0.6, 0.4], (5, 1)), np.full(5, 0.97))


def test_a_network_with_evidence_of_something_else_gets_the_fixed_rule() -> None:
    in_class, outside = sets()
    rule = unknown_rule(in_class, outside, 0.01, True, too_few=WHY)
    assert (rule.max_other, rule.min_confidence, rule.keep_confidence) == (
        calibration.FEW_PHOTOS_RULE
    )
    assert rule.details["chosen_by"] == (
        f"fixed: {WHY}; 'unknown' only when the evidence of something else is 0.9 or more "
        "and no label reaches 0.9"
    )
    assert rule.details["outside"]["caught"] == 1.0
    assert rule.details["in_class"]["validation"]["correct_lost"] == round(1 / 12, 4)


def test_a_network_without_that_evidence_gets_no_rule_and_says_so() -> None:
    in_class, outside = sets()
    rule = unknown_rule(in_class, outside, 0.01, False, too_few=WHY)
    assert not rule.active
    # It says why there is no evidence, not only that there are few photos
    assert rule.details == {
        "chosen_by": f"disabled: {WHY}, and its outputs give no evidence of something else "
        "(no ImageNet classes mapped onto its labels, no 'none of these' output); every image "
        "gets a label"
    }
