"""Training: the state machine's tasks, choices and the reclassify fan-out."""

from __future__ import annotations

import json
import re
import tarfile
from typing import Any

import pytest
from aws_cdk.assertions import Match

from classifier.contracts import ModelPointer, artifact_key, reclassify_message
from infra.constructs.reclassify import reclassify_message_fields
from infra.constructs.training_input import (
    DEFAULT_INPUT,
    INVALID_VERSION,
    VERSION_CHOICE,
)
from infra.constructs.training_job import (
    DLC_REGISTRY_ACCOUNTS,
    TRAINING_IMAGE_REPOSITORY,
    TRAINING_IMAGE_TAG,
)
from infra.environment_config import ConfigError, load_environment


def _task(env: Any) -> dict[str, Any]:
    state: dict[str, Any] = env.states()["Train"]
    return state


def test_training_runs_a_sagemaker_job_to_completion(env: Any) -> None:
    # Then the task waits for the job (RUN_JOB, the .sync integration)
    assert _task(env)["Resource"].endswith(":states:::sagemaker:createTrainingJob.sync")


def test_training_uses_managed_spot_with_checkpoints_in_s3(env: Any) -> None:
    parameters = _task(env)["Parameters"]
    config = env.config
    # Then spot capacity is used, waiting up to max_wait for it, within max_run of training
    assert config.training_use_spot
    assert parameters["EnableManagedSpotTraining"] is True
    assert parameters["StoppingCondition"] == {
        "MaxRuntimeInSeconds": config.training_max_run_seconds,
        "MaxWaitTimeInSeconds": config.training_max_wait_seconds,
    }
    # And checkpoints sync to the version's checkpoint prefix, so an interrupted job resumes
    assert parameters["CheckpointConfig"] == {
        "S3Uri.$": "$.job.checkpoint_uri",
        "LocalPath": "/opt/ml/checkpoints",
    }
    prepare = env.states()["PrepareTraining"]["Parameters"]
    assert "/models/{}/checkpoints/'" in prepare["checkpoint_uri.$"]


def test_training_uses_the_regions_tensorflow_gpu_container(dev: Any, prod: Any) -> None:
    def image(env: Any) -> str:
        uri: str = _task(env)["Parameters"]["AlgorithmSpecification"]["TrainingImage"]
        return uri

    suffix = f"/{TRAINING_IMAGE_REPOSITORY}:{TRAINING_IMAGE_TAG}"
    assert "-gpu-" in TRAINING_IMAGE_TAG
    # Then without a known region, the DLC registry comes from a mapping at deploy time
    assert image(dev) == (
        "<{Fn::FindInMap: [TrainingImageRegistry, {Ref: AWS::Region}, account]}>"
        ".dkr.ecr.<AWS::Region>.<AWS::URLSuffix>" + suffix
    )
    mapping = dev.data["Mappings"]["TrainingImageRegistry"]
    assert mapping == {region: {"account": a} for region, a in DLC_REGISTRY_ACCOUNTS.items()}
    # And with a known region it is resolved at synthesis, with no mapping left over
    assert image(prod) == "763104351884.dkr.ecr.eu-west-1.<AWS::URLSuffix>" + suffix
    assert "Mappings" not in prod.data


def test_training_role_may_pull_only_the_training_repository(env: Any) -> None:
    # Then the SageMaker role pulls layers from tensorflow-training in the DLC registry only
    statements = env.policy_statements("SageMakerRole")
    (pull,) = [s for s in statements if "ecr:BatchGetImage" in s["Action"]]
    rendered = json.dumps(pull["Resource"])
    assert rendered.endswith(':repository/tensorflow-training"]]}') or rendered.endswith(
        ':repository/tensorflow-training"'
    )


def test_training_runs_on_the_configured_instance(env: Any) -> None:
    # Then one instance of the configured GPU type (ml.g5.xlarge by default)
    resources = _task(env)["Parameters"]["ResourceConfig"]
    assert resources["InstanceType"] == env.config.training_instance_type == "ml.g5.xlarge"
    assert resources["InstanceCount"] == 1


def test_training_takes_data_and_hyperparameters_from_the_execution_input(env: Any) -> None:
    parameters = _task(env)["Parameters"]
    # Then the training channel is the input's data_uri (defaulting to the data/ prefix)
    (channel,) = parameters["InputDataConfig"]
    assert channel["ChannelName"] == "train"  # SM_CHANNEL_TRAIN
    assert channel["DataSource"]["S3DataSource"]["S3Uri.$"] == "$.args.data_uri"
    defaults = env.states()["ApplyDefaults"]["Result"]
    bucket_id = env.logical_id("AWS::S3::Bucket", "ModelsBucket")
    assert defaults["data_uri"] == f"s3://<{bucket_id}>/data/"
    # And the hyperparameters are the caller's, merged under ours
    assert parameters["HyperParameters.$"] == "$.hyperparameters.merged"
    merge = env.states()["MergeHyperparameters"]["Parameters"]["merged.$"]
    assert merge == "States.JsonMerge($.args.hyperparameters, $.job.fixed_hyperparameters, false)"
    assert "HyperParameters" not in parameters


def test_training_runs_train_py_in_script_mode_from_the_source_asset(env: Any) -> None:
    fixed = env.states()["PrepareTraining"]["Parameters"]["fixed_hyperparameters"]
    # Then the toolkit runs training/train.py from the bundled source dir, for this version
    assert fixed["sagemaker_program"] == "training/train.py"
    assert fixed["version.$"] == "$.args.version"
    # And the submit directory is the source-dir asset: a gzipped tar staged by synthesis
    files = [f for f in env.assets()["files"].values() if f["displayName"] == "Training/SourceDir"]
    assert len(files) == 1 and files[0]["source"]["packaging"] == "file"
    (destination,) = files[0]["destinations"].values()
    submit = fixed["sagemaker_submit_directory"]
    assert re.search(rf"s3://cdk-hnb659fds-assets-\S+/{destination['objectKey']}", submit)
    with tarfile.open(env.outdir / files[0]["source"]["path"], "r:gz") as archive:
        names = archive.getnames()
    assert {"requirements.txt", "training/train.py", "functions/classifier/contracts.py"} <= set(
        names
    )


def test_training_writes_under_the_versions_models_prefix(env: Any) -> None:
    prepare = env.states()["PrepareTraining"]["Parameters"]
    # Then SageMaker's output lands in models/<version>/training/ and the job name is unique
    assert _task(env)["Parameters"]["OutputDataConfig"] == {"S3OutputPath.$": "$.job.output_uri"}
    assert "/models/{}/training/'" in prepare["output_uri.$"]
    assert prepare["name.$"].startswith(f"States.Format('imgclf-{env.name}-{{}}-{{}}'")
    assert "States.UUID()" in prepare["name.$"]


def test_quality_gate_reads_the_artifact_and_blocks_promotion(env: Any) -> None:
    states = env.states()
    gate_id = env.logical_id("AWS::Lambda::Function", "GateFunction")
    # Then the gate function gets the job's artifact and the version it must be
    assert states["Train"]["Next"] == "QualityGate"
    assert states["QualityGate"]["Resource"] == f"<{gate_id}.Arn>"
    assert states["QualityGate"]["Parameters"] == {
        "artifact_uri.$": "$.training.artifact_uri",
        "expected_version.$": "$.args.version",
        # And whether to skip the comparison with the live model, and whether it will promote
        "force.$": "$.args.force",
        "promote.$": "$.args.promote",
        # And the pointer it will write, which the gate returns with `previous`
        "pointer.$": "$.job.pointer",
    }
    assert DEFAULT_INPUT["force"] is False
    assert states["Train"]["ResultSelector"]["artifact_uri.$"] == (
        "$.ModelArtifacts.S3ModelArtifacts"
    )
    # And only a passing gate leads on; anything else fails the execution (and alarms)
    choice = states["GatePassed?"]
    assert choice["Choices"] == [
        {"Variable": "$.gate.passed", "BooleanEquals": True, "Next": "CopyArtifact"}
    ]
    assert states[choice["Default"]]["Type"] == "Fail"


def test_gate_function_is_a_small_zip_lambda(env: Any) -> None:
    # Then the gate ships as code (no image), on a current Python runtime
    env.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "gate.handler",
            "Runtime": Match.string_like_regexp(r"^python3\.\d+$"),
            "Code": {"S3Bucket": Match.any_value(), "S3Key": Match.any_value()},
            "TracingConfig": {"Mode": "Active"},
        },
    )


def test_gate_function_ships_the_champion_comparison(env: Any) -> None:
    # Given the gate's code asset, as synthesis staged it
    gate_id = env.logical_id("AWS::Lambda::Function", "GateFunction")
    code = env.data["Resources"][gate_id]["Properties"]["Code"]
    staged = [
        env.outdir / asset["source"]["path"]
        for asset in env.assets()["files"].values()
        if any(d["objectKey"] == code["S3Key"] for d in asset["destinations"].values())
    ]
    assert len(staged) == 1
    # Then champion.py and recorded.py travel beside gate.py in the zip
    assert {"gate.py", "champion.py", "recorded.py"} <= {path.name for path in staged[0].iterdir()}


def test_gate_compares_with_the_pointer_within_the_environments_margin(env: Any) -> None:
    # Then the gate knows which pointer names the live model and the allowed regression
    env.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "gate.handler",
            "Environment": {
                "Variables": {
                    "MODEL_POINTER_PARAMETER": f"/imgclf/{env.name}/model",
                    "MAX_REGRESSION_PP": str(env.config.max_regression_pp),
                }
            },
        },
    )


def test_max_regression_pp_is_a_non_negative_number() -> None:
    # Then the setting defaults to 1 pp and rejects what the gate could not use
    assert load_environment("x", {"x": {}}).max_regression_pp == 1.0
    assert load_environment("x", {"x": {"max_regression_pp": 2}}).max_regression_pp == 2
    for bad in ("1", True, -0.5):
        with pytest.raises(ConfigError, match="max_regression_pp"):
            load_environment("x", {"x": {"max_regression_pp": bad}})


def test_promotion_writes_the_pointer_contract(env: Any) -> None:
    states = env.states()
    models_id = env.logical_id("AWS::S3::Bucket", "ModelsBucket")
    # Then the artifact is copied to the contract's key, models/<version>/model.tar.gz
    copy = states["CopyArtifact"]
    assert copy["Resource"].endswith(":states:::aws-sdk:s3:copyObject")
    assert copy["Parameters"]["Key.$"] == "$.job.artifact_key"
    assert f"'{artifact_key('{}')}'" in states["PrepareTraining"]["Parameters"]["artifact_key.$"]
    # And the SSM pointer gets ModelPointer's JSON fields, naming that key
    promote = states["PromoteModel"]
    assert promote["Resource"].endswith(":states:::aws-sdk:ssm:putParameter")
    assert promote["Parameters"]["Name"] == f"/imgclf/{env.name}/model"
    assert promote["Parameters"]["Overwrite"] is True
    # (the gate's copy of the job's pointer, with the live version as `previous`)
    assert promote["Parameters"]["Value.$"] == "States.JsonToString($.gate.pointer)"
    pointer = states["PrepareTraining"]["Parameters"]["pointer"]
    fields = {name.removesuffix(".$") for name in pointer}
    assert fields == set(json.loads(ModelPointer(uri="u", version="v").to_json()))
    assert pointer["uri.$"] == (
        f"States.Format('s3://<{models_id}>/{artifact_key('{}')}', $.args.version)"
    )


def test_promotion_can_be_skipped_but_the_artifact_is_kept(env: Any) -> None:
    states = env.states()
    # Then "promote": false stops after the copy (a later `model promote` can use it)
    assert states["CopyArtifact"]["Next"] == "Promote?"
    choice = states["Promote?"]
    assert choice["Choices"][0]["Variable"] == "$.args.promote"
    assert choice["Choices"][0]["Next"] == "PromoteModel"
    assert states[choice["Default"]]["Type"] == "Succeed"
    assert DEFAULT_INPUT["promote"] is True


def test_input_defaults_are_merged_under_the_execution_input(env: Any) -> None:
    states = env.states()
    # Then every optional field has a default and the caller's fields win
    assert env.definition()["StartAt"] == "ApplyDefaults"
    assert states["ApplyDefaults"]["ResultPath"] == "$.defaults"
    assert states["ReadInput"]["Parameters"] == {
        "args.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)"
    }
    # And training without a valid version fails by name instead of deep inside SageMaker
    # (test_training_version.py: what a valid version is)
    assert states[VERSION_CHOICE]["Default"] == INVALID_VERSION
    assert states[INVALID_VERSION]["Type"] == "Fail"


@pytest.mark.parametrize(
    ("action", "first_state"), [("train", VERSION_CHOICE), ("reclassify", "ReadModelPointer")]
)
def test_action_selects_training_or_reclassify_only(
    env: Any, action: str, first_state: str
) -> None:
    choice = env.states()["Action?"]
    # Then {"action": "reclassify"} skips training entirely; unknown actions fail
    routes = {c["StringEquals"]: c["Next"] for c in choice["Choices"]}
    assert routes[action] == first_state
    assert set(routes) == {"train", "reclassify"}
    assert env.states()[choice["Default"]]["Type"] == "Fail"


def test_reclassify_action_uses_the_live_model_version(env: Any) -> None:
    states = env.states()
    # Then the live version comes from the pointer; a missing pointer fails by name
    read = states["ReadModelPointer"]
    assert read["Resource"].endswith(":states:::aws-sdk:ssm:getParameter")
    assert read["ResultSelector"] == {"pointer.$": "States.StringToJson($.Parameter.Value)"}
    assert read["Catch"][0]["ErrorEquals"] == ["Ssm.ParameterNotFoundException"]
    assert read["Next"] == "ReclassifyLiveVersion"
    assert states["ReclassifyLiveVersion"]["Parameters"] == {
        "version.$": "$.current.pointer.version"
    }
    assert states["ReclassifyLiveVersion"]["Next"] == "Reclassify"


def test_reclassify_after_training_uses_the_trained_version(env: Any) -> None:
    states = env.states()
    # Then "reclassify": true after promotion reclassifies against the new version
    choice = states["ReclassifyAfterPromotion?"]
    assert choice["Choices"][0] == {
        "Variable": "$.args.reclassify",
        "BooleanEquals": True,
        "Next": "ReclassifyTrainedVersion",
    }
    assert states["ReclassifyTrainedVersion"]["Parameters"] == {"version.$": "$.args.version"}
    assert DEFAULT_INPUT["reclassify"] is False


def test_reclassify_is_a_distributed_map_over_the_images_bucket(env: Any) -> None:
    reclassify = env.states()["Reclassify"]
    bucket_id = env.logical_id("AWS::S3::Bucket", "ImagesBucket")
    # Then the listing fans out on AWS (ListObjectsV2 item reader), in batches, to Express
    # child workflows, and the results are not collected into the parent's state
    assert reclassify["ItemReader"] == {
        "Resource": "arn:<AWS::Partition>:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": f"<{bucket_id}>"},
    }
    assert reclassify["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "EXPRESS",
    }
    assert reclassify["ItemBatcher"]["BatchInput"] == {
        "bucket": f"<{bucket_id}>",
        "version.$": "$.reclassify.version",
    }
    assert reclassify["ResultPath"] is None


def test_reclassify_enqueues_only_objects_of_another_or_no_version(env: Any) -> None:
    states = env.states()
    table_id = env.logical_id("AWS::DynamoDB::Table", "ResultsTable")
    # Then each key's recorded status and version are read from the results table
    read = states["ReadRecordedVersion"]
    assert read["Resource"].endswith(":states:::dynamodb:getItem")
    assert read["Parameters"]["TableName"] == f"<{table_id}>"
    assert read["Parameters"]["Key"] == {"pk": {"S.$": "States.Format('{}/{}', $.bucket, $.key)"}}
    assert read["Parameters"]["ExpressionAttributeNames"] == {
        "#status": "status",
        "#version": "model_version",
    }
    # And a key is enqueued when never recorded or recorded under another version, but not
    # when it is current or REJECTED
    choices = states["NeedsReclassify?"]["Choices"]
    assert choices[0] == {
        "Variable": "$.recorded.Item",
        "IsPresent": False,
        "Next": "BuildReclassifyMessage",
    }
    skip_rules = [json.dumps(choice) for choice in choices[1:]]
    assert all('"Next": "AlreadyCurrent"' in rule for rule in skip_rules)
    assert any('"StringEquals": "REJECTED"' in rule for rule in skip_rules)
    assert any('"StringEqualsPath": "$.version"' in rule for rule in skip_rules)
    assert states["NeedsReclassify?"]["Default"] == "BuildReclassifyMessage"


def test_reclassify_sends_the_contract_message_to_the_queue(env: Any) -> None:
    states = env.states()
    queue_id = env.logical_id("AWS::SQS::Queue", "StorageQueue")
    # Then the message built is reclassify_message(bucket, key, version), field for field,
    # with the version the execution promoted (a function's cached pointer is re-read for it)
    message = states["BuildReclassifyMessage"]["Parameters"]["message"]
    contract = json.loads(reclassify_message("BUCKET", "KEY", "VERSION"))
    assert {name.removesuffix(".$") for name in message} == set(contract)
    assert message["bucket.$"] == "$.bucket" and message["key.$"] == "$.key"
    assert message["model_version.$"] == "$.version"
    assert message["type"] == contract["type"]
    # And it goes to the images queue as a JSON string
    send = states["EnqueueReclassify"]
    assert send["Resource"].endswith(":states:::sqs:sendMessage")
    assert send["Parameters"] == {
        "QueueUrl": f"<{queue_id}>",
        "MessageBody.$": "States.JsonToString($.message)",
    }


def test_reclassify_message_fields_follow_the_contract() -> None:
    # Given JSON paths for bucket, key and the version the execution promoted
    fields = reclassify_message_fields(bucket_path="$.b", key_path="$.k", version_path="$.v")
    # When Step Functions fills them in
    filled = {
        name.removesuffix(".$"): {"$.b": "images", "$.k": "a/b.jpg", "$.v": "v2"}.get(value, value)
        for name, value in fields.items()
    }
    # Then the body equals the contract's message for that object and version
    assert filled == json.loads(reclassify_message("images", "a/b.jpg", "v2"))


def test_state_machine_logs_everything_and_traces(env: Any) -> None:
    log_group_id = env.logical_id("AWS::Logs::LogGroup", "StateMachineLogs")
    # Then every execution is logged (with data) and traced, and cannot run forever
    env.template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": True,
                "Destinations": [
                    {
                        "CloudWatchLogsLogGroup": {
                            "LogGroupArn": {"Fn::GetAtt": [log_group_id, "Arn"]}
                        }
                    }
                ],
            },
            "TracingConfiguration": {"Enabled": True},
        },
    )
    assert env.definition()["TimeoutSeconds"] == 24 * 3600
