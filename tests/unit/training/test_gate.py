"""The quality gate: minimum int8 accuracy and maximum float-to-int8 drop."""

from __future__ import annotations

import pytest

from training.gate import check_gate


def _gate(float_accuracy: float, int8_accuracy: float, count: int = 100):  # type: ignore[no-untyped-def]
    return check_gate(
        float_accuracy=float_accuracy,
        int8_accuracy=int8_accuracy,
        min_int8_accuracy=0.95,
        max_drop_pp=1.0,
        test_count=count,
    )


def test_a_good_int8_model_passes_with_no_reasons() -> None:
    result = _gate(0.975, 0.97)

    assert result.passed
    assert result.reasons == ()
    assert result.drop_pp == pytest.approx(0.5)


def test_low_int8_accuracy_fails_and_says_why() -> None:
    result = _gate(0.945, 0.94)

    assert not result.passed
    assert len(result.reasons) == 1
    assert "below the minimum 95.00%" in result.reasons[0]


def test_a_drop_over_the_limit_fails_even_when_accuracy_is_high() -> None:
    result = _gate(0.99, 0.975)

    assert not result.passed
    assert "1.50 pp below float" in result.reasons[0]


def test_on_a_small_set_one_image_is_the_least_drop_measured() -> None:
    # 43 images: one image is 2.33 pp, more than the 1 pp allowed, and the least a drop can be
    assert _gate(43 / 43, 42 / 43, count=43).passed
    two = _gate(43 / 43, 41 / 43, count=43)
    assert not two.passed
    assert two.reasons == (
        "int8 accuracy is 4.65 pp below float (100.00% -> 95.35%), more than the allowed one "
        "image of 43",
    )
    # On 200 images, 1 pp is two images, and the limit stays 1 pp
    assert not _gate(0.975, 0.96, count=200).passed


def test_exactly_the_allowed_drop_passes_despite_float_rounding() -> None:
    assert _gate(0.97, 0.96).passed  # 0.97 - 0.96 is 1.0000000000000009 pp in binary


def test_int8_better_than_float_is_no_drop() -> None:
    result = _gate(0.96, 0.97)

    assert result.passed
    assert result.drop_pp == pytest.approx(-1.0)


def test_both_failures_are_reported_together() -> None:
    assert len(_gate(0.99, 0.5).reasons) == 2


def test_an_empty_test_split_never_passes() -> None:
    result = check_gate(
        float_accuracy=0.0, int8_accuracy=0.0, min_int8_accuracy=0.0, max_drop_pp=1.0, test_count=0
    )

    assert not result.passed
    assert "empty" in result.reasons[0]


def test_model_json_gate_has_the_contract_keys() -> None:
    gate = _gate(0.99, 0.5).to_dict()

    assert gate["passed"] is False
    assert gate["min_int8_accuracy"] == 0.95
    assert gate["max_drop_pp"] == 1.0
    assert isinstance(gate["reasons"], list) and gate["reasons"]
