"""`--imagenet-mapping auto` maps any label set through the hierarchy."""

from __future__ import annotations

import logging

import pytest

from training.imagenet import ANIMALS10_MAPPING, resolve_mapping
from training.mixture import resolve_setting


def test_auto_keeps_animals10s_builtin_mapping() -> None:
    assert resolve_setting("auto", list(ANIMALS10_MAPPING)) == resolve_mapping(ANIMALS10_MAPPING)


def test_auto_maps_other_label_sets() -> None:
    mapping = resolve_setting("auto", ["car", "boat", "bird"])
    assert mapping is not None and set(mapping) == {"bird", "boat", "car"}
    assert 817 in mapping["car"]  # sports car


def test_a_label_imagenet_cannot_name_is_left_to_the_head(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A warning, which `imgclf train` prints: it was INFO, so a name that places nothing
    # (a typo, another language: 'légumes') trained on in silence
    with caplog.at_level(logging.WARNING, logger="training.mixture"):
        mapping = resolve_setting("auto", ["car", "qwzx", "zzyzx"])
    assert mapping is not None and mapping["qwzx"] == mapping["zzyzx"] == ()
    assert 817 in mapping["car"]
    assert "no ImageNet class is a 'qwzx', 'zzyzx' (" in caplog.text


def test_auto_falls_back_when_no_label_has_a_place(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="training.mixture"):
        assert resolve_setting("auto", ["qwzx", "zzyzx"]) is None
    assert "qwzx, zzyzx" in caplog.text


def test_auto_says_which_sense_it_took_for_a_name_with_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Folders `crane` and `glasses` trained on the machine and sunglasses without a word
    with caplog.at_level(logging.WARNING, logger="training.mixture"):
        mapping = resolve_setting("auto", ["crane", "dog"])
    assert mapping is not None
    said = [r.getMessage() for r in caplog.records if "'crane' is " in r.getMessage()]
    assert len(said) == 1 and "other senses: " in said[0] and "n02012849" in said[0], said
    assert "`imgclf model day0 --labels crane,dog`" in said[0]
    assert not [r for r in caplog.records if "'dog' is " in r.getMessage()]
