"""Inference: the container function and its SQS event source."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from classifier.contracts import model_pointer_name
from infra.resources import function_environment

ARCHITECTURES = {"arm64": "arm64", "x86_64": "x86_64"}


def _function(env: Any) -> tuple[str, dict[str, Any]]:
    found: tuple[str, dict[str, Any]] = env.only(
        "AWS::Lambda::Function", id_contains="InferenceFunction"
    )
    return found


def test_function_is_a_container_image_with_the_configured_size(env: Any) -> None:
    # Given the environment's settings
    config = env.config
    # Then the classifier runs as an image on the configured architecture, memory and timeout
    env.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "PackageType": "Image",
            "Code": {"ImageUri": Match.any_value()},
            "Architectures": [ARCHITECTURES[config.architecture]],
            "MemorySize": config.function_memory_mb,
            "Timeout": config.function_timeout_seconds,
            "TracingConfig": {"Mode": "Active"},
        },
    )


def test_function_defaults_to_arm64(env: Any) -> None:
    # Then dev and prod run on Graviton, the cheaper architecture for this workload
    _, function = _function(env)
    assert function["Properties"]["Architectures"] == ["arm64"]


def test_function_image_is_staged_from_the_classifier_directory(env: Any) -> None:
    # Given the stack's asset manifest (synthesis stages the build context, Docker builds
    # it only at deploy time)
    images = env.assets()["dockerImages"]
    assert len(images) == 1
    (image,) = images.values()
    staged = env.outdir / image["source"]["directory"]
    # Then the context is functions/classifier with its Dockerfile, for the function's platform
    assert (staged / "Dockerfile").is_file()
    assert (staged / "handler.py").is_file()
    assert image["source"]["platform"] == f"linux/{env.config.architecture}"
    # And caches never enter the image or its hash, nor host builds of the native unfilter:
    # the Dockerfile builds it from its source for the image's architecture
    assert not list(staged.rglob("__pycache__"))
    assert not list(staged.rglob("*.so"))
    assert (staged / "native" / "unfilter.c").is_file()


def test_function_environment_is_the_shared_definition(env: Any) -> None:
    # Given the environment variables both the stack and the local environment derive
    table_id = env.logical_id("AWS::DynamoDB::Table", "ResultsTable")
    expected = function_environment(
        env.config,
        results_table="TABLE",
        model_pointer_parameter=model_pointer_name(env.name),
    )
    expected["RESULTS_TABLE"] = {"Ref": table_id}  # type: ignore[assignment]
    # Then the function gets exactly those
    _, function = _function(env)
    assert function["Properties"]["Environment"]["Variables"] == expected


def test_function_logs_to_its_own_log_group_with_retention(env: Any) -> None:
    # Given the function's log group
    log_group_id = env.logical_id("AWS::Logs::LogGroup", "InferenceLogGroup")
    # Then logs expire after the configured retention
    assert (
        env.data["Resources"][log_group_id]["Properties"]["RetentionInDays"]
        == env.config.log_retention_days
    )
    # And the function writes there
    _, function = _function(env)
    assert function["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": log_group_id}


def test_event_source_reports_partial_batch_failures_within_its_limits(env: Any) -> None:
    # Given the queue
    queue_id = env.logical_id("AWS::SQS::Queue", "StorageQueue")
    config = env.config
    # Then the function reads it in batches, retries only failed records and never
    # scales past the configured concurrency
    env.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
            "FunctionName": {"Ref": _function(env)[0]},
            "BatchSize": config.batch_size,
            "MaximumBatchingWindowInSeconds": config.batch_window_seconds,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": config.max_concurrency},
        },
    )


def test_function_uses_an_own_role_without_managed_policies(env: Any) -> None:
    # Then no AWS-managed policy (AWSLambdaBasicExecutionRole grants logs on "*") is attached
    _, function = _function(env)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    role = env.data["Resources"][role_id]
    assert "ManagedPolicyArns" not in role["Properties"]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
