"""cdk-nag: the rule packs the app runs, and how suppressions are written.

Suppressions for our own resources live next to them, in their construct; this module adds
only those for the singleton custom-resource providers CDK itself puts into the stack. Each
suppression names one rule on one resource and, for the granular IAM rules, the exact
findings it accepts (`applies_to`), so a new wildcard action still fails the synth. IAM5's
`Resource::*` finding does not name the action it is about, so a suppression of it would
also accept a new action on `*`: tests/infra/test_iam.py holds the exact list of actions
granted on `*` (`ACTIONS_ALLOWED_ON_ANY_RESOURCE`).
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Aspects, CfnElement, Stack
from cdk_nag import AwsSolutionsChecks, NagPackSuppression, NagSuppressions, ServerlessChecks
from constructs import IConstruct

# CDK's provider for s3 event notifications: one per stack, at a fixed path.
BUCKET_NOTIFICATIONS_HANDLER = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
LAMBDA_BASIC_EXECUTION_ROLE = (
    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
)
ANY_RESOURCE = "Resource::*"


def add_nag_checks(scope: IConstruct) -> None:
    """Run the AwsSolutions and Serverless packs over everything under `scope`."""
    Aspects.of(scope).add(AwsSolutionsChecks(verbose=True))
    Aspects.of(scope).add(ServerlessChecks(verbose=True))


def suppress(resource: IConstruct, rule: str, reason: str, *applies_to: str) -> None:
    """Accept one rule's findings on one resource (a CfnResource, or an IAM policy)."""
    NagSuppressions.add_resource_suppressions(
        resource,
        [NagPackSuppression(id=rule, reason=reason, applies_to=list(applies_to) or None)],
    )


def default_policy(role: IConstruct | None) -> Any:
    """The CfnPolicy of a role's default policy, where IAM5 findings on its grants land."""
    assert role is not None
    policy = role.node.find_child("DefaultPolicy").node.default_child
    assert policy is not None
    return policy


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical ID of an L2 construct's resource, as cdk-nag prints it."""
    element = construct.node.default_child if construct.node.default_child else construct
    assert isinstance(element, CfnElement), f"{construct.node.path} has no CloudFormation resource"
    stack = Stack.of(element)
    return str(stack.resolve(stack.get_logical_id(element)))


def arn_finding(construct: IConstruct, suffix: str = "") -> str:
    """The IAM5 finding for `<construct's ARN><suffix>`, e.g. a bucket's `/models/*`."""
    return f"Resource::<{logical_id(construct)}.Arn>{suffix}"


def resource_finding(scope: IConstruct, resource: str) -> str:
    """The IAM5 finding for a resource string (an ARN with tokens), as cdk-nag renders it.

    Resolved in the stack, so a literal region or partition (a stack with a known
    environment) reads the same as in cdk-nag's output.
    """
    return "Resource::" + _render(Stack.of(scope).resolve(resource))


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_render(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    return json.dumps(value, separators=(",", ":"))


def suppress_cdk_internals(stack: Stack) -> None:
    """Suppressions for the custom-resource providers CDK adds to the stack."""
    handler = stack.node.try_find_child(BUCKET_NOTIFICATIONS_HANDLER)
    if handler is not None:
        role = handler.node.find_child("Role").node.default_child
        assert role is not None
        suppress(
            role,
            "AwsSolutions-IAM4",
            "CDK's BucketNotificationsHandler (it sets the images bucket's notification "
            "configuration at deploy time) writes its own logs through the AWS-managed basic "
            "execution role; CDK offers no way to replace the role of this singleton.",
            LAMBDA_BASIC_EXECUTION_ROLE,
        )
