"""settings: parsed once, validated, with one-line errors."""

import pytest

from classifier.settings import Settings, SettingsError

REQUIRED = {"RESULTS_TABLE": "t", "MODEL_POINTER_PARAMETER": "/imgclf/dev/model"}


def test_defaults_apply_when_only_required_values_are_set() -> None:
    settings = Settings.from_env(REQUIRED)
    assert settings.tagging_enabled and settings.top_k == 3
    assert not settings.colour_tags and settings.index_shards == 4
    assert settings.allowed_formats == frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP"})


def test_values_are_parsed_with_their_types() -> None:
    settings = Settings.from_env(
        {
            **REQUIRED,
            "TAGGING_ENABLED": "false",
            "MAX_IMAGE_BYTES": "10",
            "ALLOWED_FORMATS": "jpeg, png",
            "MODEL_REFRESH_SECONDS": "0.5",
            "COLOUR_TAGS": "true",
            "INDEX_SHARDS": "16",
        }
    )
    assert settings.colour_tags and settings.index_shards == 16
    assert not settings.tagging_enabled and settings.max_image_bytes == 10
    assert settings.allowed_formats == frozenset({"JPEG", "PNG"})
    assert settings.model_refresh_seconds == 0.5


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "RESULTS_TABLE is required"),
        ({**REQUIRED, "TOP_K": "three"}, "TOP_K must be a number"),
        ({**REQUIRED, "MAX_IMAGE_PIXELS": "-1"}, "MAX_IMAGE_PIXELS must be positive"),
        ({**REQUIRED, "INDEX_SHARDS": "0"}, "INDEX_SHARDS must be a whole number 1..64"),
        ({**REQUIRED, "INDEX_SHARDS": "65"}, "INDEX_SHARDS must be a whole number 1..64"),
        ({**REQUIRED, "INDEX_SHARDS": "2.5"}, "INDEX_SHARDS must be a whole number"),
        ({**REQUIRED, "COLOUR_TAGS": "maybe"}, "COLOUR_TAGS must be true or false"),
    ],
)
def test_bad_values_fail_with_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
