"""settings: parsed once, validated, with one-line errors."""

import pytest

from classifier.settings import Settings, SettingsError

REQUIRED = {"RESULTS_TABLE": "t", "MODEL_POINTER_PARAMETER": "/imgclf/dev/model"}


def test_defaults_apply_when_only_required_values_are_set() -> None:
    settings = Settings.from_env(REQUIRED)
    assert settings.tagging_enabled and settings.top_k == 3
    assert settings.allowed_formats == frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP"})


def test_values_are_parsed_with_their_types() -> None:
    settings = Settings.from_env(
        {
            **REQUIRED,
            "TAGGING_ENABLED": "false",
            "MAX_IMAGE_BYTES": "10",
            "ALLOWED_FORMATS": "jpeg, png",
            "MODEL_REFRESH_SECONDS": "0.5",
        }
    )
    assert not settings.tagging_enabled and settings.max_image_bytes == 10
    assert settings.allowed_formats == frozenset({"JPEG", "PNG"})
    assert settings.model_refresh_seconds == 0.5


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "RESULTS_TABLE is required"),
        ({**REQUIRED, "TOP_K": "three"}, "TOP_K must be a number"),
        ({**REQUIRED, "MAX_IMAGE_PIXELS": "-1"}, "MAX_IMAGE_PIXELS must be positive"),
    ],
)
def test_bad_values_fail_with_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
