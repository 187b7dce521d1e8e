"""Monitoring: the alarm topic, the alarms and the dashboard."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Match, Template

from classifier.contracts import METRIC_MODEL_LOAD_FAILED, METRICS_NAMESPACE
from infra.constructs.monitoring import MonitoringConstruct
from infra.environment_config import load_environment
from infra.resources import function_environment


def _alarm(env: Any, name: str) -> dict[str, Any]:
    alarm: dict[str, Any] = env.only("AWS::CloudWatch::Alarm", id_contains=name)[1]["Properties"]
    return alarm


def test_metric_names_match_what_the_function_emits(env: Any) -> None:
    # Given the function's Powertools settings
    variables = function_environment(env.config, results_table="t", model_pointer_parameter="p")
    # Then alarms and dashboard read the namespace and service dimension it emits under, its
    # environment's own (dev's model-load failures fired prod's alarm in a shared account)
    assert METRICS_NAMESPACE == variables["POWERTOOLS_METRICS_NAMESPACE"]
    service = variables["POWERTOOLS_SERVICE_NAME"]
    assert service == f"imgclf-{env.config.name}"
    dimensions = [
        metric["Dimensions"]
        for alarm in env.resources("AWS::CloudWatch::Alarm").values()
        for metric in [
            alarm["Properties"],
            *(
                m.get("MetricStat", {}).get("Metric", {})
                for m in alarm["Properties"].get("Metrics", [])
            ),
        ]
        if metric.get("Namespace") == METRICS_NAMESPACE
    ]
    assert dimensions and all(d == [{"Name": "service", "Value": service}] for d in dimensions)


def test_alarm_topic_is_encrypted_and_ssl_only(env: Any) -> None:
    topic_id = env.logical_id("AWS::SNS::Topic", "AlarmTopic")
    key_id = env.logical_id("AWS::KMS::Key", "TopicKey")
    # Then alarm notifications are encrypted with a rotating customer-managed key...
    env.template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )
    env.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    # ...that CloudWatch may use to publish
    env.template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            }
                        )
                    ]
                )
            }
        },
    )
    # And publishing over plain HTTP is denied
    env.template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": topic_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_no_email_subscription_without_an_address(env: Any) -> None:
    # Given no alarm_email in the settings (cdk.json has null)
    assert env.config.alarm_email is None
    # Then no subscription waits for a confirmation nobody will click
    env.template.resource_count_is("AWS::SNS::Subscription", 0)


def test_every_alarm_notifies_the_topic(env: Any) -> None:
    topic_id = env.logical_id("AWS::SNS::Topic", "AlarmTopic")
    alarms = env.resources("AWS::CloudWatch::Alarm")
    # Then all seven alarms exist and page through the topic
    assert len(alarms) == 7
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]


def test_dlq_alarm_fires_on_the_first_message(env: Any) -> None:
    dlq_id = env.logical_id("AWS::SQS::Queue", "DeadLetterQueue")
    alarm = _alarm(env, "DeadLetterQueueNotEmpty")
    # Then one visible message in the DLQ is enough
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}
    ]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_oldest_message_alarm_uses_the_configured_threshold(env: Any) -> None:
    queue_id = env.logical_id("AWS::SQS::Queue", "StorageQueue")
    alarm = _alarm(env, "OldestMessageTooOld")
    # Then an image waiting longer than the setting alarms
    assert alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue_id, "QueueName"]}
    assert alarm["Threshold"] == env.config.oldest_message_age_alarm_seconds
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_throughput_alarm_combines_classified_images_and_backlog(env: Any) -> None:
    alarm = _alarm(env, "ThroughputBelowFloor")
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    floor = env.config.throughput_floor_per_5_minutes
    # Then metric math fires only when the queue has a backlog and too few were classified
    expression = next(m for m in alarm["Metrics"] if "Expression" in m)["Expression"]
    assert expression == f"IF(backlog > 0 AND FILL(classified, 0) < {floor}, 1, 0)"
    classified = metrics["classified"]["MetricStat"]
    assert classified["Metric"] == {
        "MetricName": "ImagesClassified",
        "Namespace": "imgclf",
        "Dimensions": [{"Name": "service", "Value": f"imgclf-{env.config.name}"}],
    }
    assert (classified["Stat"], classified["Period"]) == ("Sum", 300)
    backlog = metrics["backlog"]["MetricStat"]
    assert backlog["Metric"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert backlog["Stat"] == "Minimum"  # the backlog never emptied during the period
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (
        1,
        "GreaterThanOrEqualToThreshold",
    )


@pytest.mark.parametrize(
    ("alarm_id", "metric"), [("FunctionErrors", "Errors"), ("FunctionThrottles", "Throttles")]
)
def test_function_errors_and_throttles_alarm(env: Any, alarm_id: str, metric: str) -> None:
    function_id = env.logical_id("AWS::Lambda::Function", "InferenceFunction")
    alarm = _alarm(env, alarm_id)
    # Then any error or throttle of the classifier function alarms
    assert alarm["Namespace"] == "AWS/Lambda" and alarm["MetricName"] == metric
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 0)


def test_failed_training_executions_alarm(env: Any) -> None:
    machine_id = env.logical_id("AWS::StepFunctions::StateMachine", "TrainingStateMachine")
    alarm = _alarm(env, "TrainingFailed")
    # Then failed, timed-out and aborted executions of the state machine all count
    names = {
        m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"]["Metric"]
        for m in alarm["Metrics"]
        if "MetricStat" in m
    }
    assert set(names) == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    for metric in names.values():
        assert metric["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": machine_id}}]
    assert alarm["Threshold"] == 0


def test_a_model_the_function_cannot_load_alarms_on_the_first_failure(env: Any) -> None:
    topic_id = env.logical_id("AWS::SNS::Topic", "AlarmTopic")
    # Then one failed model load in 5 minutes pages, and says what to do about it
    env.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": METRICS_NAMESPACE,
            "MetricName": METRIC_MODEL_LOAD_FAILED,
            "Dimensions": [{"Name": "service", "Value": f"imgclf-{env.config.name}"}],
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": topic_id}],
            "AlarmDescription": Match.string_like_regexp("imgclf model rollback"),
        },
    )


def test_one_dashboard_per_environment_shows_the_pipeline(env: Any) -> None:
    _, dashboard = env.only("AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    # Then it is named for the environment and plots throughput, latency p50/p99, backlog,
    # the DLQ, rejects and errors
    assert dashboard["Properties"]["DashboardName"] == f"imgclf-{env.name}"
    for title in ("Throughput", "Latency", "Backlog", "Dead-letter queue", "Rejects", "Errors"):
        assert f'\\"title\\":\\"{title}' in body, title
    for metric in ("ImagesClassified", "ImagesRejected", "ImageLatency", "RecordsFailed"):
        assert metric in body, metric
    assert '\\"stat\\":\\"p50\\"' in body and '\\"stat\\":\\"p99\\"' in body


def test_alarm_email_subscribes_the_address() -> None:
    # Given the monitoring construct in a bare stack, with an address set in the settings
    config = load_environment("test", {"test": {"alarm_email": "ops@example.com"}})
    stack = Stack(App(), "Bare")
    MonitoringConstruct(
        stack,
        "Monitoring",
        dashboard_name="imgclf-test",
        alarm_name_prefix="imgclf-test",
        alarm_email=config.alarm_email,
        queue=sqs.Queue.from_queue_arn(stack, "Q", "arn:aws:sqs:us-east-1:111111111111:q"),
        dead_letter_queue=sqs.Queue.from_queue_arn(
            stack, "D", "arn:aws:sqs:us-east-1:111111111111:d"
        ),
        function=lambda_.Function.from_function_name(stack, "F", "classifier"),
        state_machine=sfn.StateMachine.from_state_machine_arn(
            stack, "M", "arn:aws:states:us-east-1:111111111111:stateMachine:m"
        ),
        oldest_message_age_alarm_seconds=60,
        throughput_floor_per_5_minutes=3,
        retain_key=False,
        metrics_service="imgclf-test",
    )
    template = Template.from_stack(stack)
    # Then the address gets the alarms by e-mail
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )
