"""The model version rule, one definition used by the CLI, training and the state machine."""

from __future__ import annotations

import json

import pytest

from classifier.contracts import (
    MODEL_VERSION_MAX_LENGTH,
    model_version_problem,
)
from imgclf.main import main
from training.train import main as train_main
from training.train_config import ConfigError, parse_args

# Versions the rule must refuse, and why (a word of the one-line reason).
BAD_VERSIONS = [
    ("1e5", "float"),  # SageMaker would hand training 100000.0
    ("123", "int"),
    ("true", "bool"),
    ("false", "bool"),
    ("null", "NoneType"),
    ("NaN", "float"),
    ("Infinity", "float"),
    ("-1", "int"),
    ("v" * (MODEL_VERSION_MAX_LENGTH + 1), "characters long"),
    ("v1-", "must be"),  # job names cannot end in a hyphen
    ("-v1", "must be"),
    ("v1.0", "must be"),
    ("v_1", "must be"),
    ("v 1", "must be"),
    ("", "must be"),
]
GOOD_VERSIONS = [
    "v1",
    "v20260101-120000",
    "day0-20260101-120000",
    "True",  # not JSON: Python's json decoder is case-sensitive
    "a--b",
    "v" * MODEL_VERSION_MAX_LENGTH,
]


@pytest.mark.parametrize(("version", "reason"), BAD_VERSIONS)
def test_versions_that_change_type_or_break_a_job_name_are_refused(
    version: str, reason: str
) -> None:
    problem = model_version_problem(version)
    assert problem is not None and reason in problem
    assert "\n" not in problem


@pytest.mark.parametrize("version", GOOD_VERSIONS)
def test_accepted_versions_reach_training_as_the_same_string(version: str) -> None:
    assert model_version_problem(version) is None
    # What SageMaker's toolkit does to a hyperparameter: json.loads, else the string itself
    with pytest.raises(ValueError):
        json.loads(version)


def test_a_non_string_is_refused() -> None:
    assert model_version_problem(100000.0) == "it is float, not a string"


@pytest.mark.parametrize("version", ["1e5", "true", "v1.0"])
@pytest.mark.parametrize("command", [["train"], ["model", "day0"]])
def test_imgclf_refuses_a_bad_version_in_one_line_before_anything_starts(
    capsys: pytest.CaptureFixture[str], version: str, command: list[str]
) -> None:
    # No environment is resolved: the version is checked first (env "nowhere" does not exist)
    code = main([*command, "--env", "nowhere", "--version", version])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("imgclf: error: --version"), err
    assert "is not valid" in err and "\n" not in err


@pytest.mark.parametrize("argv_version", ["100000.0", "-1", "v1-"])
def test_training_refuses_what_sagemaker_decoded_from_a_bad_version(argv_version: str) -> None:
    # SageMaker passes `--version str(json.loads(value))`: "1e5" arrives as "100000.0"
    with pytest.raises(ConfigError, match="--version .* is not valid"):
        parse_args(["--version", argv_version], {})


def test_the_training_entry_point_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert train_main(["--version", "100000.0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --version '100000.0' is not valid") and "\n" not in err
