"""`imgclf train` says when the model it trained could not choose its "unknown" rule on its
own photos and why: a user with a dozen validation photos learns that the rule is the fixed
one, or, for a network with no evidence of something else, that every image gets a label."""

from __future__ import annotations

from classifier.artifact import UnknownRule
from imgclf.trainer import unknown_note_lines

WHY = (
    "12 validation images cannot show that 'unknown' takes at most 1% of the labels' own "
    "photos (it needs 100)"
)


def test_a_rule_training_switched_off_is_a_note_with_its_reason() -> None:
    reason = f"disabled: {WHY}; every image gets a label"
    lines = unknown_note_lines(UnknownRule(details={"chosen_by": reason}), "v1")
    assert lines == [f"note: model v1 has no 'unknown' rule: {WHY}; every image gets a label"]


def test_the_fixed_rule_is_a_note_with_its_reason_and_what_it_caught() -> None:
    reason = f"fixed: {WHY}; 'unknown' only when ..."
    details = {"chosen_by": reason, "outside": {"count": 40, "caught": 0.875}}
    rule = UnknownRule(max_other=0.9, keep_confidence=0.9, details=details)
    assert unknown_note_lines(rule, "v1") == [
        f"note: model v1's 'unknown' rule is fixed, not chosen: {WHY}; 'unknown' only when ..."
        " (it caught 88% of the outside photos)"
    ]


def test_a_chosen_rule_or_one_with_no_reason_says_nothing() -> None:
    chosen = UnknownRule(max_other=0.4, details={"chosen_by": "the most caught"})
    assert unknown_note_lines(chosen, "v1") == []
    assert unknown_note_lines(UnknownRule(), "v1") == []
