"""The state machine refuses a version that cannot name a job, a hyperparameter and a key.

Asserted from the synthesized ASL: the check comes before anything starts, and the job
name it guards cannot exceed SageMaker's 63 characters. The JSONata condition is evaluated
with the `jsonata` npm package at 2.0.6 (package.json), the version Step Functions implements,
and must agree with `classifier.contracts.model_version_problem` on every sample.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from classifier.contracts import MODEL_VERSION_MAX_LENGTH, model_version_problem
from infra.constructs.training_input import (
    INVALID_VERSION,
    VERSION_CHOICE,
    check_job_name_prefix,
)
from infra.environment_config import TRAINING_JOB_NAME_MAX_LENGTH
from tests.infra.validators import REPO_ROOT

JOB_NAME = re.compile(
    r"States\.Format\('(?P<template>[^']*)', \$\.args\.version, "
    r"States\.ArrayGetItem\(States\.StringSplit\(States\.UUID\(\), '-'\), 0\)\)"
)
UUID_FIRST_GROUP = 8  # xxxxxxxx-xxxx-...
# Inputs for the condition: strings either side of the rule, and JSON values of other types.
SAMPLES: list[Any] = [
    "v1",
    "v20260101-120000",
    "day0-20260101-120000",
    "True",
    "a--b",
    "v" * MODEL_VERSION_MAX_LENGTH,
    "v" * (MODEL_VERSION_MAX_LENGTH + 1),
    "1e5",
    "123",
    "-1",
    "true",
    "null",
    "NaN",
    "Infinity",
    "v1-",
    "-v1",
    "v1.0",
    "v_1",
    "v 1",
    "",
    12,
    1.5,
    True,
    None,
    ["v1"],
    {"v": 1},
]
EVALUATE = """
const jsonata = require(process.argv[1] + "/node_modules/jsonata");
const {expression, inputs} = JSON.parse(require("fs").readFileSync(0, "utf8"));
(async () => {
  const compiled = jsonata(expression);
  const out = [];
  for (const input of inputs) {
    out.push(Boolean(await compiled.evaluate(undefined, {states: {input}})));
  }
  console.log(JSON.stringify(out));
})();
"""


def _routes_into(states: dict[str, Any], target: str) -> set[str]:
    """Names of the states that can move to `target`."""
    found = set()
    for name, state in states.items():
        nexts = [state.get("Next"), state.get("Default")]
        nexts += [choice.get("Next") for choice in state.get("Choices", [])]
        if target in nexts:
            found.add(name)
    return found


def test_training_checks_the_version_first(env: Any) -> None:
    states = env.states()
    choice = states[VERSION_CHOICE]
    # Then "train" goes to the check, and only the check leads into the training path
    train_route = [c["Next"] for c in states["Action?"]["Choices"] if c["StringEquals"] == "train"]
    assert train_route == [VERSION_CHOICE]
    assert choice["QueryLanguage"] == "JSONata"
    assert [c["Next"] for c in choice["Choices"]] == ["PrepareTraining"]
    assert _routes_into(states, "PrepareTraining") == {VERSION_CHOICE}
    # And anything else fails by name, saying what a version must be
    failed = states[choice["Default"]]
    assert choice["Default"] == INVALID_VERSION and failed["Type"] == "Fail"
    assert "letter" in failed["Cause"] and str(MODEL_VERSION_MAX_LENGTH) in failed["Cause"]


def test_job_names_cannot_exceed_sagemakers_limit(env: Any) -> None:
    states = env.states()
    condition = states[VERSION_CHOICE]["Choices"][0]["Condition"]
    # Given the longest version the condition lets through (read from the ASL)
    bound = re.search(r"\$length\(\$states\.input\.args\.version\) <= (\d+)", condition)
    assert bound is not None, condition
    longest_version = int(bound.group(1))
    # And the job name PrepareTraining builds from it
    name = JOB_NAME.fullmatch(states["PrepareTraining"]["Parameters"]["name.$"])
    assert name is not None
    template = name.group("template")
    assert template.count("{}") == 2
    literal = len(template) - len("{}{}")
    # Then no job name is longer than 63 characters, and it starts with a letter
    assert literal + longest_version + UUID_FIRST_GROUP <= TRAINING_JOB_NAME_MAX_LENGTH
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*-", template.split("{}")[0])
    # And the job's version hyperparameter is that checked version
    fixed = states["PrepareTraining"]["Parameters"]["fixed_hyperparameters"]
    assert fixed["version.$"] == "$.args.version"


def test_the_state_machine_and_the_python_rule_agree(env: Any) -> None:
    condition = env.states()[VERSION_CHOICE]["Choices"][0]["Condition"]
    assert condition.startswith("{%") and condition.endswith("%}")
    # When the ASL's condition is evaluated by JSONata on each sample execution input, and
    # on one without a version
    inputs = [{"args": {"version": sample}} for sample in SAMPLES] + [{"args": {}}]
    completed = subprocess.run(
        ["node", "-e", EVALUATE, str(REPO_ROOT)],
        input=json.dumps({"expression": condition[2:-2], "inputs": inputs}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    *accepted, missing_accepted = json.loads(completed.stdout)
    # Then it accepts exactly what model_version_problem accepts
    expected = [model_version_problem(sample) is None for sample in SAMPLES]
    assert dict(zip(map(repr, SAMPLES), accepted, strict=True)) == dict(
        zip(map(repr, SAMPLES), expected, strict=True)
    )
    assert any(expected) and not all(expected)
    # And a missing version is refused too
    assert missing_accepted is False


def test_a_prefix_that_could_make_job_names_too_long_is_refused() -> None:
    assert check_job_name_prefix("imgclf-staging") == "imgclf-staging"
    with pytest.raises(ValueError, match="could be 64 characters long"):
        check_job_name_prefix("x" * (TRAINING_JOB_NAME_MAX_LENGTH - MODEL_VERSION_MAX_LENGTH - 9))
