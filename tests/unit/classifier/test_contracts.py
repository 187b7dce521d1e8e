"""contracts: the S3 tag value rule that training and the function both apply."""

from __future__ import annotations

import unicodedata

import pytest

from classifier.contracts import (
    OUR_TAG_KEYS,
    TAG_VALUE_MAX_LENGTH,
    TAG_VALUE_PATTERN,
    tag_value_problem,
)


@pytest.mark.parametrize(
    "value",
    [
        "golden retriever",
        "a/b",
        "x=y",
        "user@host",
        "v2026-01-01T10:00:00.000+00:00_rc.1",
        "café",  # S3's pattern takes any Unicode letter (\p{L}), not only ASCII
        "猫",
        "½",  # \p{N} holds every number, not only digits
        "",  # S3 allows an empty value
        "x" * TAG_VALUE_MAX_LENGTH,
        "\U0001d400" * (TAG_VALUE_MAX_LENGTH // 2),  # astral letters count twice (UTF-16)
    ],
)
def test_values_s3_accepts_have_no_problem(value: str) -> None:
    assert tag_value_problem(value) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("noir?", "'?' (U+003F) is not allowed"),
        ("a,b", "',' (U+002C) is not allowed"),
        ('"quoted"', "'\"' (U+0022) is not allowed"),
        ("two\nlines", "'\\n' (U+000A) is not allowed"),
        ("tab\there", "'\\t' (U+0009) is not allowed"),
        ("cafe\u0301", "(U+0301) is not allowed"),  # a combining accent is a mark, not a letter
        ("x" * (TAG_VALUE_MAX_LENGTH + 1), "it is 257 characters long"),
        ("\U0001d400" * 129, "it is 258 characters long"),
    ],
)
def test_values_s3_refuses_get_a_one_line_reason_naming_the_rule(value: str, reason: str) -> None:
    problem = tag_value_problem(value)
    assert problem is not None and reason in problem and "\n" not in problem
    assert problem.endswith(
        "(allowed: letters, numbers, spaces and _ . : / = + - @, at most 256 characters)"
    )


def test_rule_matches_the_documented_pattern_for_every_assigned_bmp_character() -> None:
    # Given S3's documented pattern, run by an engine that knows \p{...}
    regex = pytest.importorskip("regex")
    pattern = regex.compile(TAG_VALUE_PATTERN)
    # When every assigned character of the Basic Multilingual Plane is checked both ways
    disagreements = [
        hex(code)
        for code in range(0x10000)
        if unicodedata.category(chr(code)) not in ("Cn", "Cs")
        and (pattern.fullmatch(chr(code)) is None) != (tag_value_problem(chr(code)) is not None)
    ]
    # Then the unicodedata check and the pattern agree
    assert disagreements == []


def test_our_tag_keys_use_only_characters_s3_accepts() -> None:
    # Keys share the values' pattern (and are far below their 128-character limit).
    assert [key for key in OUR_TAG_KEYS if tag_value_problem(key)] == []
