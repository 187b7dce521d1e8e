"""cfn-lint and asl-validator on the dev and prod templates, and on broken ones.

The templates are the session's shared synthesis (conftest.synthesized); each validator is
also fed a deliberately broken copy, so a validator that silently accepts everything (a
missing binary, a wrapper that ignores its exit code) fails here.
"""

from __future__ import annotations

import copy
from typing import Any

from aws_cdk import Token

from tests.infra.validators import (
    ACCEPTED_WARNINGS,
    PLACEHOLDER_REGION,
    asl_validate,
    cfn_lint,
    state_machine_definitions,
    unaccepted,
)


def _region(env: Any) -> str:
    """The stack's region, or a placeholder for an environment-agnostic stack."""
    region = env.stack.region
    return PLACEHOLDER_REGION if Token.is_unresolved(region) else str(region)


def test_cfn_lint_finds_no_errors_and_only_justified_warnings(env: Any) -> None:
    findings = cfn_lint(env.data, _region(env))
    # Then nothing is left but the warnings the allow-list explains
    assert [str(finding) for finding in unaccepted(findings)] == []
    assert all(finding.level == "warning" for finding in findings)
    # And the allow-list holds no rule that no longer fires (it stays as small as it can be)
    assert {finding.rule for finding in findings} == set(ACCEPTED_WARNINGS)
    assert all(len(reason) > 40 for reason in ACCEPTED_WARNINGS.values())


def test_cfn_lint_refuses_a_broken_template(dev: Any) -> None:
    # Given the dev template with a dangling reference and an unknown runtime
    broken = copy.deepcopy(dev.data)
    function_id, function = next(
        (logical_id, resource)
        for logical_id, resource in broken["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function" and "Runtime" in resource["Properties"]
    )
    function["Properties"]["Runtime"] = "python2.0"
    queue_policy = next(
        resource
        for resource in broken["Resources"].values()
        if resource["Type"] == "AWS::SQS::QueuePolicy"
    )
    queue_policy["Properties"]["Queues"] = [{"Ref": "NoSuchQueue"}]
    # Then cfn-lint reports errors, which no allow-list can accept
    findings = unaccepted(cfn_lint(broken, _region(dev)))
    errors = {finding.rule for finding in findings if finding.level == "error"}
    assert errors, function_id
    assert any("NoSuchQueue" in finding.message for finding in findings)
    assert any("python2.0" in finding.message for finding in findings)


def test_every_state_machine_definition_is_valid_asl(env: Any) -> None:
    definitions = state_machine_definitions(env.data, region=_region(env))
    # Given every state machine of the template (training, with reclassify's Map inside)
    assert len(definitions) == len(env.resources("AWS::StepFunctions::StateMachine")) >= 1
    for logical_id, definition in definitions.items():
        # Then no token is left unresolved
        assert "Fn::" not in str(definition) and "'Ref'" not in str(definition), logical_id
        # And the Amazon States Language validator accepts it
        valid, report = asl_validate(definition)
        assert valid, f"{logical_id}: {report}"


def test_asl_validator_refuses_a_broken_definition(dev: Any) -> None:
    ((_, definition),) = state_machine_definitions(dev.data, region=_region(dev)).items()
    # Given the real definition with a transition to a state that does not exist
    dangling = copy.deepcopy(definition)
    dangling["States"]["ApplyDefaults"]["Next"] = "NoSuchState"
    valid, report = asl_validate(dangling)
    # Then the validator refuses it and says why
    assert not valid and "MISSING_TRANSITION_TARGET" in report, report
    # And so is a JSONata condition that does not parse (the version check's is parsed)
    unparsable = copy.deepcopy(definition)
    choice = next(s for s in unparsable["States"].values() if s.get("QueryLanguage") == "JSONata")
    choice["Choices"][0]["Condition"] = choice["Choices"][0]["Condition"].replace(")", "", 1)
    valid, report = asl_validate(unparsable)
    assert not valid and "jsonata" in report, report
