"""cdk-nag: AwsSolutions and Serverless packs report nothing unsuppressed."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Annotations, Match

NAG_PACK_PREFIXES = ("AwsSolutions-", "Serverless-")
# Rules whose findings are granular (one per action/resource): their suppressions must say
# which findings they accept.
GRANULAR_RULES = {"AwsSolutions-IAM4", "AwsSolutions-IAM5"}


def _messages(env: Any, kind: str) -> list[str]:
    annotations = Annotations.from_stack(env.stack)
    finder = annotations.find_error if kind == "error" else annotations.find_warning
    return [
        f"{message.id}: {str(message.entry.data)[:160]}"
        for message in finder("*", Match.string_like_regexp(".*"))
    ]


def test_both_nag_packs_ran(env: Any) -> None:
    # Given the suppressions recorded in the template
    rules = {
        suppression["id"]
        for resource in env.data["Resources"].values()
        for suppression in resource.get("Metadata", {})
        .get("cdk_nag", {})
        .get("rules_to_suppress", [])
    }
    # Then rules of both packs were evaluated (otherwise "no errors" would prove nothing)
    assert any(rule.startswith("AwsSolutions-") for rule in rules)
    assert any(rule.startswith("Serverless-") for rule in rules)


def test_no_unsuppressed_nag_errors(env: Any) -> None:
    # Then no error annotation of any kind is left on the stack
    assert _messages(env, "error") == []


def test_no_unsuppressed_nag_warnings(env: Any) -> None:
    assert _messages(env, "warning") == []


def test_every_suppression_has_a_reason_and_granular_ones_name_their_findings(env: Any) -> None:
    for logical_id, resource in env.data["Resources"].items():
        suppressions = resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
        for suppression in suppressions:
            # Then each one explains itself
            assert suppression["id"].startswith(NAG_PACK_PREFIXES), logical_id
            assert len(suppression.get("reason", "")) >= 40, (logical_id, suppression["id"])
            # And a wildcard/managed-policy suppression lists the exact findings it accepts
            if suppression["id"] in GRANULAR_RULES:
                assert suppression.get("applies_to"), (logical_id, suppression["id"])


def test_suppressions_sit_on_resources_not_on_the_stack(env: Any) -> None:
    # Then no stack-wide suppression can hide a finding on a resource added later
    assert "cdk_nag" not in env.data.get("Metadata", {})
