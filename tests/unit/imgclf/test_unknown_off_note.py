"""`imgclf train` says when the model it trained has no "unknown" rule and why: a user with
a dozen validation photos learns that every image will get one of the labels."""

from __future__ import annotations

from classifier.artifact import UnknownRule
from imgclf.trainer import unknown_off_lines

REASON = (
    "disabled: 12 validation images cannot show that 'unknown' takes at most 1% of the "
    "labels' own photos (it needs 100); every image gets a label"
)


def test_a_rule_training_switched_off_is_a_note_with_its_reason() -> None:
    lines = unknown_off_lines(UnknownRule(details={"chosen_by": REASON}), "v1")
    assert lines == [f"note: model v1 has no 'unknown' rule: {REASON.removeprefix('disabled: ')}"]


def test_a_chosen_rule_or_one_with_no_reason_says_nothing() -> None:
    chosen = UnknownRule(max_other=0.4, details={"chosen_by": "the most caught"})
    assert unknown_off_lines(chosen, "v1") == []
    assert unknown_off_lines(UnknownRule(), "v1") == []
