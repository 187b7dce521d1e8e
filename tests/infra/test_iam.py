"""Least privilege, asserted from the synthesized IAM and resource policies."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from tests.infra.validators import REPO_ROOT

# CDK's auto-delete-objects provider (dev only: removal policy DESTROY) is granted
# s3:DeleteObject*, s3:GetBucket*, s3:List* in the bucket policy. It is CDK's own code,
# runs only when the stack is deleted, and never exists in prod (asserted below).
AUTO_DELETE_PROVIDER_ROLE = "CustomS3AutoDeleteObjectsCustomResourceProviderRole"
DATA_RESOURCE_TYPES = (
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _identity_statements(env: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Allow statement of every identity policy: (policy logical ID, statement)."""
    for policy_id, policy in env.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow":
                yield policy_id, statement
    for role_id, role in env.resources("AWS::IAM::Role").items():
        for inline in role["Properties"].get("Policies", []):
            for statement in inline["PolicyDocument"]["Statement"]:
                if statement["Effect"] == "Allow":
                    yield role_id, statement


def _resource_statements(env: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Allow statement of every bucket and queue policy."""
    for type_ in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy"):
        for policy_id, policy in env.resources(type_).items():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if statement["Effect"] == "Allow":
                    yield policy_id, statement


def _data_resource_ids(env: Any) -> set[str]:
    return {logical_id for type_ in DATA_RESOURCE_TYPES for logical_id in env.resources(type_)}


def _mentions(resource: Any, logical_ids: set[str]) -> bool:
    text = json.dumps(resource)
    return any(f'"{logical_id}"' in text for logical_id in logical_ids)


def _is_ssm_pointer(resource: Any) -> bool:
    return ":parameter/imgclf/" in json.dumps(resource)


def _function_statements(env: Any) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = env.policy_statements("InferenceRole")
    return statements


def test_function_gets_exactly_read_and_tag_on_the_images_bucket(env: Any) -> None:
    # Given the images bucket
    bucket_id = env.logical_id("AWS::S3::Bucket", "ImagesBucket")
    actions = {
        action
        for statement in _function_statements(env)
        if _mentions(statement["Resource"], {bucket_id})
        for action in _as_list(statement["Action"])
    }
    # Then the function may read an image and its tags and write tags: nothing else
    # (ListBucket makes a GET of a deleted key answer 404, which is acknowledged, not 403)
    expected = {"s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:ListBucket"}
    if env.config.bucket_versioning:
        # a versioned bucket authorises VersionId requests with the *Version* actions
        expected |= {
            "s3:GetObjectVersion",
            "s3:GetObjectVersionTagging",
            "s3:PutObjectVersionTagging",
        }
    assert actions == expected
    # And explicitly: it can never overwrite, delete or do anything on an image
    assert "s3:PutObject" not in actions and "s3:*" not in actions
    assert not any(action.startswith("s3:Delete") for action in actions)


def test_function_gets_item_level_table_actions_only(env: Any) -> None:
    # Given the results table
    table_id = env.logical_id("AWS::DynamoDB::Table", "ResultsTable")
    statements = [s for s in _function_statements(env) if _mentions(s["Resource"], {table_id})]
    actions = {action for s in statements for action in _as_list(s["Action"])}
    # Then only the item-level actions the function's code calls, on the table itself (no
    # Query, Scan or DeleteItem, no batch, no table admin)
    source = "\n".join(p.read_text() for p in (REPO_ROOT / "functions").rglob("*.py"))
    called = re.findall(r"\.(get_item|put_item|update_item|delete_item|query|scan)\(", source)
    assert {f"dynamodb:{name.title().replace('_', '')}" for name in called} == actions
    assert actions == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    for statement in statements:
        assert _as_list(statement["Resource"]) == [{"Fn::GetAtt": [table_id, "Arn"]}]


def test_function_reads_only_its_own_model_pointer(env: Any) -> None:
    # Then ssm:GetParameter on /imgclf/<env>/model and no other SSM action
    ssm = [s for s in _function_statements(env) if str(s["Action"]).startswith("ssm:")]
    assert len(ssm) == 1
    assert ssm[0]["Action"] == "ssm:GetParameter"
    assert f":parameter/imgclf/{env.name}/model" in json.dumps(ssm[0]["Resource"])


def test_function_reads_only_the_models_prefix_of_the_models_bucket(env: Any) -> None:
    # Given the models bucket
    bucket_id = env.logical_id("AWS::S3::Bucket", "ModelsBucket")
    statements = [s for s in _function_statements(env) if _mentions(s["Resource"], {bucket_id})]
    # Then s3:GetObject on models/* only: never the training data, never a write
    assert statements == [
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/models/*"]]},
        }
    ]


def test_no_wildcard_action_on_any_data_resource(env: Any) -> None:
    # Given the data resources: buckets, the table, the queues and the model pointer
    data_ids = _data_resource_ids(env)
    offenders = []
    for source, statement in list(_identity_statements(env)) + list(_resource_statements(env)):
        principal = json.dumps(statement.get("Principal", {}))
        if AUTO_DELETE_PROVIDER_ROLE in principal:
            continue
        touches_data = _mentions(statement.get("Resource"), data_ids) or _is_ssm_pointer(
            statement.get("Resource")
        )
        wildcards = [action for action in _as_list(statement["Action"]) if "*" in action]
        # Then no principal holds a wildcard action (s3:*, s3:GetObject*, dynamodb:*...) on them
        if touches_data and wildcards:
            offenders.append((source, wildcards))
    assert offenders == []


def test_data_resources_are_never_granted_on_a_star_resource(env: Any) -> None:
    # Then no identity statement with a data action applies to Resource "*"
    data_services = ("s3:", "dynamodb:", "sqs:", "ssm:")
    offenders = [
        (source, statement["Action"])
        for source, statement in _identity_statements(env)
        if statement["Resource"] == "*"
        and any(str(action).startswith(data_services) for action in _as_list(statement["Action"]))
    ]
    assert offenders == []


def test_auto_delete_provider_exists_only_where_data_is_destroyed(env: Any) -> None:
    # Given the auto-delete grants that the wildcard test above exempts
    principals = [
        statement
        for _, statement in _resource_statements(env)
        if AUTO_DELETE_PROVIDER_ROLE in json.dumps(statement.get("Principal", {}))
    ]
    # Then they exist in dev (removal policy destroy) and never where data is retained
    if env.config.retain_data:
        assert principals == []
    else:
        assert len(principals) == len(env.resources("AWS::S3::Bucket"))  # one per bucket


def test_sagemaker_role_reads_only_data_and_checkpoints_and_writes_only_models(env: Any) -> None:
    # Given the models bucket and the training role's statements
    bucket_id = env.logical_id("AWS::S3::Bucket", "ModelsBucket")
    statements = env.policy_statements("SageMakerRole")

    def objects(action: str) -> list[str]:
        found = []
        for statement in statements:
            if action in _as_list(statement["Action"]):
                for resource in _as_list(statement["Resource"]):
                    text = json.dumps(resource)
                    if bucket_id in text:
                        found.append(resource["Fn::Join"][1][1])
        return sorted(found)

    # Then it reads the data prefix and its own checkpoints (spot resume) only
    assert objects("s3:GetObject") == ["/data/*", "/models/*/checkpoints/*"]
    # And writes the models prefix only (job output and checkpoints)
    assert objects("s3:PutObject") == ["/models/*"]
    # And lists only those prefixes
    (listing,) = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["data/*", "models/*"]}}
    # And never deletes anything
    assert not any(
        str(action).startswith("s3:Delete") for s in statements for action in _as_list(s["Action"])
    )


def test_state_machine_promotes_only_through_the_pointer_and_artifact_key(env: Any) -> None:
    # Given the state machine's role
    statements = env.policy_statements("StateMachineRole")
    ssm_actions = {
        action
        for statement in statements
        for action in _as_list(statement["Action"])
        if action.startswith("ssm:")
    }
    # Then it reads and writes the pointer and nothing else in SSM
    assert ssm_actions == {"ssm:GetParameter", "ssm:PutParameter"}
    # And it writes only models/<version>/model.tar.gz in the models bucket
    puts = [s for s in statements if s["Action"] == "s3:PutObject"]
    assert len(puts) == 1
    assert puts[0]["Resource"]["Fn::Join"][1][1] == "/models/*/model.tar.gz"


def test_gate_reads_the_candidate_the_live_artifact_and_the_pointer_only(env: Any) -> None:
    # Given the gate function's role
    statements = env.policy_statements("GateRole")
    bucket_id = env.logical_id("AWS::S3::Bucket", "ModelsBucket")
    bucket_arn = {"Fn::GetAtt": [bucket_id, "Arn"]}
    gets = [s for s in statements if s["Action"] == "s3:GetObject"]
    # Then it reads SageMaker's output and models/<version>/model.tar.gz, nothing else
    assert len(gets) == 1
    assert sorted(_as_list(gets[0]["Resource"]), key=json.dumps) == [
        {"Fn::Join": ["", [bucket_arn, "/models/*/model.tar.gz"]]},
        {"Fn::Join": ["", [bucket_arn, "/models/*/training/*"]]},
    ]
    # And it reads the pointer, and never writes it (the state machine promotes)
    ssm = [s for s in statements if any(a.startswith("ssm:") for a in _as_list(s["Action"]))]
    assert [s["Action"] for s in ssm] == ["ssm:GetParameter"]
    assert f":parameter/imgclf/{env.name}/model" in json.dumps(ssm[0]["Resource"])
    # And it writes nothing in S3
    assert not [
        action
        for statement in statements
        for action in _as_list(statement["Action"])
        if action.startswith("s3:") and action != "s3:GetObject"
    ]


# Every action any role of ours holds on Resource "*": each either has no resource-level
# permissions in IAM, or is narrowed by a condition. cdk-nag's IAM5 suppressions accept
# "Resource::*" per role without naming the action, so this list is what keeps a new grant on
# "*" (iam:PassRole, dynamodb:DeleteTable...) from passing the synth unseen.
ACTIONS_ALLOWED_ON_ANY_RESOURCE = frozenset(
    {
        "cloudwatch:PutMetricData",  # condition: the imgclf namespace
        "ecr:GetAuthorizationToken",
        "logs:CreateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:DescribeLogGroups",
        "logs:DescribeResourcePolicies",
        "logs:GetLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:UpdateLogDelivery",
        "sagemaker:ListTags",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    }
)


def test_only_listed_actions_are_granted_on_any_resource(env: Any) -> None:
    granted = {
        str(action)
        for _, statement in _identity_statements(env)
        if statement["Resource"] == "*" or "*" in _as_list(statement["Resource"])
        for action in _as_list(statement["Action"])
    }
    # Exactly: a grant removed leaves no stale entry that a new one could hide behind
    assert granted == ACTIONS_ALLOWED_ON_ANY_RESOURCE
