"""IAM roles shared by the constructs."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct


def function_role(
    scope: Construct, id_: str, *, description: str, log_group: logs.ILogGroup
) -> iam.Role:
    """A Lambda role of its own, instead of AWSLambdaBasicExecutionRole: it may write to
    one log group only. Callers add the function's own grants."""
    role = iam.Role(
        scope,
        id_,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    return role
