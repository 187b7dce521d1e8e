"""dev and prod differ where their settings say, and only the app names environments."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import App

from infra.app import AppError, build_stack
from infra.environment_config import (
    CONTEXT_KEY,
    LOG_RETENTION_DAYS,
    ConfigError,
    load_environment,
)
from infra.resources import StackOutputs, stack_name

RETAINED_TYPES = ("AWS::S3::Bucket", "AWS::DynamoDB::Table")


def test_settings_differ_where_the_environments_differ(dev: Any, prod: Any) -> None:
    # Given the two environments' settings (guards the comparisons below from passing vacuously)
    assert (dev.config.removal_policy, prod.config.removal_policy) == ("destroy", "retain")
    assert (dev.config.bucket_versioning, prod.config.bucket_versioning) == (False, True)
    assert (dev.config.table_deletion_protection, prod.config.table_deletion_protection) == (
        False,
        True,
    )


@pytest.mark.parametrize("type_", RETAINED_TYPES)
def test_dev_destroys_data_and_prod_retains_it(dev: Any, prod: Any, type_: str) -> None:
    for env, policy in ((dev, "Delete"), (prod, "Retain")):
        # Then deleting the dev stack removes its data; deleting prod's keeps it
        for logical_id, resource in env.resources(type_).items():
            assert resource["DeletionPolicy"] == policy, (env.name, logical_id)
            assert resource["UpdateReplacePolicy"] == policy, (env.name, logical_id)


def test_only_dev_empties_its_buckets_on_delete(dev: Any, prod: Any) -> None:
    # Then dev's buckets are emptied so the stack can be deleted; prod has no such hook
    # (test_teardown.py: one per bucket, and nothing left to refill them)
    assert len(dev.resources("Custom::S3AutoDeleteObjects")) == len(
        dev.resources("AWS::S3::Bucket")
    )
    assert prod.resources("Custom::S3AutoDeleteObjects") == {}


def test_versioning_follows_the_setting(dev: Any, prod: Any) -> None:
    for env in (dev, prod):
        for logical_id, bucket in env.resources("AWS::S3::Bucket").items():
            versioning = bucket["Properties"].get("VersioningConfiguration")
            # Then prod keeps every version of every object; dev keeps none
            if env.config.bucket_versioning:
                assert versioning == {"Status": "Enabled"}, logical_id
            else:
                assert versioning is None, logical_id


def test_table_deletion_protection_follows_the_setting(dev: Any, prod: Any) -> None:
    for env in (dev, prod):
        _, table = env.only("AWS::DynamoDB::Table")
        # Then prod's table cannot be deleted by accident (not even by CloudFormation)
        assert (
            table["Properties"]["DeletionProtectionEnabled"] is env.config.table_deletion_protection
        )


def test_prod_stack_has_termination_protection(dev: Any, prod: Any) -> None:
    assert prod.stack.termination_protection is True
    assert dev.stack.termination_protection is False


def test_prod_logs_outlive_the_stack(dev: Any, prod: Any) -> None:
    # Then prod's log groups are kept (with prod's longer retention), dev's go with it
    for env, policy in ((dev, "Delete"), (prod, "Retain")):
        for logical_id, group in env.resources("AWS::Logs::LogGroup").items():
            assert group["DeletionPolicy"] == policy, logical_id
            assert group["Properties"]["RetentionInDays"] == env.config.log_retention_days


def test_sizes_follow_the_settings(dev: Any, prod: Any) -> None:
    for env in (dev, prod):
        _, function = env.only("AWS::Lambda::Function", id_contains="InferenceFunction")
        _, mapping = env.only("AWS::Lambda::EventSourceMapping")
        # Then memory and concurrency differ as cdk.json says
        assert function["Properties"]["MemorySize"] == env.config.function_memory_mb
        assert mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"] == (
            env.config.max_concurrency
        )
    assert dev.config.max_concurrency != prod.config.max_concurrency


def test_outputs_are_exactly_what_the_cli_reads(env: Any) -> None:
    # Then every CfnOutput key the CLI looks up exists, and nothing else
    assert set(env.data["Outputs"]) == set(StackOutputs.ALL)
    outputs = env.data["Outputs"]
    assert outputs[StackOutputs.MODEL_POINTER_PARAMETER]["Value"] == f"/imgclf/{env.name}/model"
    assert outputs[StackOutputs.INDEX_SHARDS]["Value"] == str(env.config.index_shards)
    assert outputs[StackOutputs.IMAGES_BUCKET]["Value"] == {
        "Ref": env.logical_id("AWS::S3::Bucket", "ImagesBucket")
    }
    assert outputs[StackOutputs.QUEUE_URL]["Value"] == {
        "Ref": env.logical_id("AWS::SQS::Queue", "StorageQueue")
    }


def test_stack_is_named_for_the_environment_and_tagged(env: Any) -> None:
    assert env.stack.stack_name == stack_name(env.name) == f"imgclf-{env.name}"
    _, table = env.only("AWS::DynamoDB::Table")
    tags = {tag["Key"]: tag["Value"] for tag in table["Properties"]["Tags"]}
    assert tags == {"project": "imgclf", "environment": env.name}


def test_account_and_region_come_only_from_the_cdk_environment(dev: Any, prod: Any) -> None:
    # Given dev synthesized without CDK_DEFAULT_* and prod with them (see conftest)
    # Then nothing was looked up: dev keeps deploy-time pseudo parameters...
    assert dev.stack.resolve(dev.stack.region) == {"Ref": "AWS::Region"}
    assert dev.stack.resolve(dev.stack.account) == {"Ref": "AWS::AccountId"}
    # ...and prod uses exactly what the CLI passed in
    assert (prod.stack.account, prod.stack.region) == ("111111111111", "eu-west-1")


def test_local_is_not_a_deployable_stack() -> None:
    with pytest.raises(AppError, match="embedded environment"):
        build_stack(App(), "local")


def test_unknown_environment_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown environment 'staging'"):
        build_stack(App(), "staging")


def test_settings_given_with_cdk_context_are_the_ones_used() -> None:
    # `cdk synth -c imgclf:environments=JSON` was ignored: the app read cdk.json alone, so a
    # bad value given that way was neither used nor reported
    app = App(context={CONTEXT_KEY: json.dumps({"dev": {"function_memory_mb": 64}})})
    with pytest.raises(ConfigError, match="^dev: function_memory_mb must be 128..10240, got 64"):
        build_stack(app, "dev")
    with pytest.raises(ConfigError, match="^unknown environment 'prod'"):
        build_stack(app, "prod")  # the context replaces cdk.json's block, as CDK's -c does
    with pytest.raises(ConfigError, match=f"^-c {CONTEXT_KEY}: not JSON"):
        build_stack(App(context={CONTEXT_KEY: "{dev"}), "dev")


def test_a_region_with_no_known_training_image_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A region missing from the training image's registry map was a jsii traceback
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "il-central-1")
    with pytest.raises(ConfigError, match="^region il-central-1 has no SageMaker TensorFlow"):
        build_stack(App(), "dev")


def test_colour_settings_reach_the_function_and_the_cli(dev: Any, prod: Any) -> None:
    # Given cdk.json's per-environment shard counts (different, so nothing passes by default)
    assert (dev.config.index_shards, prod.config.index_shards) == (4, 8)
    for env in (dev, prod):
        _, function = env.only("AWS::Lambda::Function", id_contains="InferenceFunction")
        variables = function["Properties"]["Environment"]["Variables"]
        # Then the function writes with the environment's shard count and tag names (cdk.json
        # `tags`: no colours), and handles the records of a batch concurrently
        assert variables["INDEX_SHARDS"] == str(env.config.index_shards)
        assert variables["TAGS"] == env.config.tags == "label,confidence,model"
        assert variables["RECORD_CONCURRENCY"] == str(env.config.record_concurrency)
        # And logs at the environment's level: dev shows each image's DEBUG line, prod not
        assert variables["POWERTOOLS_LOG_LEVEL"] == env.config.log_level
        # And the CLI reads the same count from the stack's outputs
        assert env.data["Outputs"][StackOutputs.INDEX_SHARDS]["Value"] == variables["INDEX_SHARDS"]


def test_prod_handles_a_whole_batch_at_once(prod: Any) -> None:
    # One wave of records per invocation: billed ms per image is what the price goal rests on
    assert prod.config.record_concurrency == prod.config.batch_size == 10


def test_each_images_log_line_is_shown_in_dev_and_not_billed_in_prod(dev: Any, prod: Any) -> None:
    assert (dev.config.log_level, prod.config.log_level) == ("DEBUG", "INFO")
    with pytest.raises(ConfigError, match="log_level must be"):
        load_environment("x", {"x": {"log_level": "VERBOSE"}})


def test_tags_is_the_one_tag_setting() -> None:
    def names(raw: dict[str, Any]) -> frozenset[str]:
        return load_environment("x", {"x": raw}).tag_names

    # Given a block without tags, or with them: the function's default three, or those named
    assert names({}) == {"label", "confidence", "model"}
    assert names({"tags": "none"}) == frozenset()
    assert names({"tags": "label, colours"}) == {"label", "colours"}
    # And the older flags are settings no more, and an unknown tag name is refused
    for bad, why in (
        ({"tagging_enabled": False}, "unknown settings tagging_enabled"),
        ({"colour_tags": True}, "unknown settings colour_tags"),
        ({"tags": "label,colour"}, "no tag name.* to list 'colour'"),
        ({"tags": "none,label"}, "to list 'none': .* or 'none' alone for no tags"),
        ({"tags": True}, "tags must be a string"),
        ({"record_concurrency": 0}, "record_concurrency must be"),
        ({"record_concurrency": 33}, "record_concurrency must be"),
        ({"record_concurrency": "8"}, "record_concurrency must be a whole number"),
    ):
        with pytest.raises(ConfigError, match=why):
            load_environment("x", {"x": bad})


def test_index_shards_are_validated() -> None:
    assert load_environment("x", {"x": {}}).index_shards == 4
    for bad in ({"index_shards": 0}, {"index_shards": 65}, {"index_shards": "4"}):
        with pytest.raises(ConfigError, match="index_shards"):
            load_environment("x", {"x": bad})


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        # Each of these synthesized with no message: the stack deployed, then failed at use
        ({"function_memory_mb": 20000}, "function_memory_mb must be 128..10240, got 20000"),
        ({"function_timeout_seconds": 901}, "function_timeout_seconds must be 1..900"),
        ({"function_timeout_seconds": 0}, "function_timeout_seconds must be 1..900"),
        ({"max_image_bytes": -1}, "max_image_bytes must be >= 1, got -1"),
        ({"max_image_pixels": 0}, "max_image_pixels must be >= 1"),
        ({"oldest_message_age_alarm_seconds": -1}, "oldest_message_age_alarm_seconds must be"),
        ({"throughput_floor_per_5_minutes": -1}, "throughput_floor_per_5_minutes must be >= 0"),
        ({"training_max_run_seconds": 0}, "training_max_run_seconds must be"),
        ({"training_instance_type": ""}, "training_instance_type must be a SageMaker instance"),
        # ...and these were tracebacks from CDK or jsii
        ({"log_retention_days": 15}, "log_retention_days must be one of 1, 3, 5, 7, 14"),
        ({"max_receive_count": 0}, "max_receive_count must be 1..1000"),
        ({"batch_window_seconds": 301}, "batch_window_seconds must be 0..300"),
        ({"batch_window_seconds": -1}, "batch_window_seconds must be 0..300"),
        ({"batch_size": None}, "batch_size must have a value, not null"),
        ({"tags": None, "max_labels": None}, "max_labels, tags must have a value, not null"),
    ],
)
def test_settings_out_of_range_are_one_line_errors(bad: dict[str, Any], why: str) -> None:
    with pytest.raises(ConfigError, match=f"^x: {re.escape(why)}"):
        load_environment("x", {"x": bad})


def test_an_environment_block_and_name_are_checked() -> None:
    with pytest.raises(ConfigError, match="^dev: its settings must be an object, got 'x'$"):
        load_environment("dev", {"dev": "x"})
    with pytest.raises(ConfigError, match="environment name 'Dev_Env!' must start with a letter"):
        load_environment("Dev_Env!", {"Dev_Env!": {}})
    # A name whose training jobs' names SageMaker would refuse was a traceback in synthesis
    assert load_environment("abcdefghij", {"abcdefghij": {}}).name == "abcdefghij"
    with pytest.raises(ConfigError, match="'integration' .* at most 10 characters long"):
        load_environment("integration", {"integration": {}})
    # `local` is no stack to name among the known ones
    with pytest.raises(ConfigError, match=r"\(known: dev; or local\)$"):
        load_environment("qa", {"dev": {}, "local": {}})
    # A deletion-protected table cannot be destroyed with the stack (cdk destroy failed)
    with pytest.raises(ConfigError, match="table_deletion_protection needs removal_policy retain"):
        load_environment("x", {"x": {"table_deletion_protection": True}})
    assert load_environment("x", {"x": {"alarm_email": None}}).alarm_email is None


def test_every_retention_the_config_allows_is_one_cdk_has() -> None:
    from infra.constructs.retention import RETENTION_BY_DAYS

    assert tuple(RETENTION_BY_DAYS) == LOG_RETENTION_DAYS
