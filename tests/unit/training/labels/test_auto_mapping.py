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


def test_auto_falls_back_and_names_the_unplaced_labels(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="training.mixture"):
        assert resolve_setting("auto", ["car", "qwzx", "zzyzx"]) is None
    assert "qwzx, zzyzx" in caplog.text
