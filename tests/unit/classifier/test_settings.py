"""settings: parsed once, validated, with one-line errors."""

import pytest

from classifier.settings import Settings, SettingsError

REQUIRED = {"RESULTS_TABLE": "t", "MODEL_POINTER_PARAMETER": "/imgclf/dev/model"}
DEFAULT = {"label", "confidence", "model"}


def test_defaults_apply_when_only_required_values_are_set() -> None:
    settings = Settings.from_env(REQUIRED)
    assert settings.tags == {"label", "confidence", "model"} and settings.top_k == 3
    assert settings.index_shards == 4 and settings.record_concurrency == 8
    assert settings.allowed_formats == frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP"})


def test_values_are_parsed_with_their_types() -> None:
    settings = Settings.from_env(
        {
            **REQUIRED,
            "TAGS": "label, Colours",
            "MAX_IMAGE_BYTES": "10",
            "ALLOWED_FORMATS": "jpeg, png",
            "MODEL_REFRESH_SECONDS": "0.5",
            "INDEX_SHARDS": "16",
            "RECORD_CONCURRENCY": "3",
            "GENERIC_MIN_CONFIDENCE": "0.35",
            "MAX_LABELS": "12",
        }
    )
    assert settings.labelling.min_confidence == 0.35 and settings.labelling.max_labels == 12
    assert settings.tags == {"label", "colours"} and settings.index_shards == 16
    assert settings.record_concurrency == 3 and settings.max_image_bytes == 10
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
        ({**REQUIRED, "TAGS": "label,colour"}, "TAGS: no tag name.*'colour'"),
        ({**REQUIRED, "RECORD_CONCURRENCY": "0"}, "RECORD_CONCURRENCY must be a whole number"),
        ({**REQUIRED, "RECORD_CONCURRENCY": "33"}, "RECORD_CONCURRENCY must be .*1..32"),
        ({**REQUIRED, "GENERIC_MIN_CONFIDENCE": "high"}, "GENERIC_MIN_CONFIDENCE must be a"),
        ({**REQUIRED, "GENERIC_MIN_CONFIDENCE": "1.5"}, "min_confidence must be within"),
        ({**REQUIRED, "MAX_LABELS": "0"}, "max_labels must be at least 1"),
        ({**REQUIRED, "MAX_LABELS": "two"}, "MAX_LABELS must be a whole number"),
    ],
)
def test_bad_values_fail_with_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        # Unset: the default three; set, TAGS alone says which (empty or none: no tags)
        ({}, DEFAULT),
        ({"TAGS": ""}, set()),
        ({"TAGS": "none"}, set()),
        ({"TAGS": " NONE "}, set()),
        ({"TAGS": "model"}, {"model"}),
        ({"TAGS": "label,colours"}, {"label", "colours"}),
    ],
)
def test_tags_name_the_tags_written(env: dict[str, str], names: set[str]) -> None:
    assert Settings.from_env({**REQUIRED, **env}).tags == names
