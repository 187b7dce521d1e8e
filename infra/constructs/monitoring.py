"""Monitoring: an alarm topic, the alarms that say an image may be stuck, one dashboard."""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from classifier.contracts import (
    METRIC_CLASSIFIED,
    METRIC_LATENCY,
    METRIC_MODEL_LOAD_FAILED,
    METRIC_RECORDS_FAILED,
    METRIC_REJECTED,
    METRICS_NAMESPACE,
)

# What the function emits through Powertools Metrics (classifier/handler.py): namespace and
# the `service` dimension (infra.resources.metrics_service: one per environment) come from
# POWERTOOLS_* in infra.resources.function_environment.

THROUGHPUT_PERIOD = Duration.minutes(5)  # the floor is "per 5 minutes"
THROUGHPUT_EVALUATION_PERIODS = 2  # ten minutes of a backlog that is not draining
QUEUE_PERIOD = Duration.minutes(1)
OLDEST_MESSAGE_EVALUATION_PERIODS = 3
FUNCTION_PERIOD = Duration.minutes(5)
TRAINING_PERIOD = Duration.minutes(5)
WIDGET_WIDTH = 8
CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"


class MonitoringConstruct(Construct):
    """SNS alarm topic (KMS, SSL only), alarms on backlog, failures, model loads and training;
    a dashboard."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        dashboard_name: str,
        alarm_name_prefix: str,
        alarm_email: str | None,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        function: lambda_.IFunction,
        state_machine: sfn.IStateMachine,
        oldest_message_age_alarm_seconds: int,
        throughput_floor_per_5_minutes: int,
        retain_key: bool,
        metrics_service: str,
    ) -> None:
        super().__init__(scope, id_)
        self._alarm_name_prefix = alarm_name_prefix
        self._service = metrics_service
        self.topic = self._build_topic(alarm_email=alarm_email, retain_key=retain_key)
        self.alarms = [
            self._build_dlq_alarm(dead_letter_queue),
            self._build_oldest_message_alarm(queue, oldest_message_age_alarm_seconds),
            self._build_throughput_alarm(queue, throughput_floor_per_5_minutes),
            self._build_function_alarm(
                "FunctionErrors",
                function.metric_errors(period=FUNCTION_PERIOD, statistic=cloudwatch.Stats.SUM),
                "errors",
            ),
            self._build_function_alarm(
                "FunctionThrottles",
                function.metric_throttles(period=FUNCTION_PERIOD, statistic=cloudwatch.Stats.SUM),
                "throttles",
            ),
            self._build_training_alarm(state_machine),
            self._build_model_load_alarm(),
        ]
        action = cloudwatch_actions.SnsAction(self.topic)
        for alarm in self.alarms:
            alarm.add_alarm_action(action)
        self.dashboard = self._build_dashboard(
            dashboard_name=dashboard_name,
            queue=queue,
            dead_letter_queue=dead_letter_queue,
            function=function,
            state_machine=state_machine,
        )

    def _build_topic(self, *, alarm_email: str | None, retain_key: bool) -> sns.Topic:
        # A customer-managed key: CloudWatch cannot publish to a topic under aws/sns.
        key = kms.Key(
            self,
            "TopicKey",
            description="imgclf alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN if retain_key else RemovalPolicy.DESTROY,
        )
        # An explicit topic policy (enforce_ssl's Deny) replaces SNS's default one, so
        # CloudWatch is allowed by name; both grants only for this stack's alarms, in this
        # account (AWS's confused-deputy advice: aws:SourceAccount and aws:SourceArn).
        from_our_alarms = self._from_our_alarms()
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsUseTheKey",
                principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions=from_our_alarms,
            )
        )
        topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=from_our_alarms,
            )
        )
        if alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        return topic

    def _from_our_alarms(self) -> dict[str, Any]:
        """Conditions: the request comes from one of this construct's alarms."""
        stack = Stack.of(self)
        alarms = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"{self._alarm_name_prefix}-*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        return {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": alarms},
        }

    def _alarm(self, id_: str, **props: Any) -> cloudwatch.Alarm:
        """An alarm named <prefix>-<id>, so the topic's conditions can name it."""
        return cloudwatch.Alarm(self, id_, alarm_name=f"{self._alarm_name_prefix}-{id_}", **props)

    def _build_dlq_alarm(self, dead_letter_queue: sqs.IQueue) -> cloudwatch.Alarm:
        return self._alarm(
            "DeadLetterQueueNotEmpty",
            alarm_description="Messages in the DLQ: objects failed maxReceiveCount times "
            "(`imgclf dlq redrive` after fixing the cause)",
            metric=dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=QUEUE_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _build_oldest_message_alarm(self, queue: sqs.IQueue, seconds: int) -> cloudwatch.Alarm:
        return self._alarm(
            "OldestMessageTooOld",
            alarm_description=f"An image has waited more than {seconds} s in the queue",
            metric=queue.metric_approximate_age_of_oldest_message(
                period=QUEUE_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=seconds,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=OLDEST_MESSAGE_EVALUATION_PERIODS,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _build_throughput_alarm(self, queue: sqs.IQueue, floor: int) -> cloudwatch.Alarm:
        # Minimum visible messages over the period: the backlog never emptied during it.
        backlog = queue.metric_approximate_number_of_messages_visible(
            period=THROUGHPUT_PERIOD, statistic=cloudwatch.Stats.MINIMUM
        )
        below_floor = cloudwatch.MathExpression(
            expression=f"IF(backlog > 0 AND FILL(classified, 0) < {floor}, 1, 0)",
            using_metrics={"backlog": backlog, "classified": classified_metric(self._service)},
            period=THROUGHPUT_PERIOD,
            label="below throughput floor with a backlog",
        )
        return self._alarm(
            "ThroughputBelowFloor",
            alarm_description=f"Fewer than {floor} images classified per 5 minutes "
            "while the queue has a backlog",
            metric=below_floor,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=THROUGHPUT_EVALUATION_PERIODS,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _build_function_alarm(
        self, id_: str, metric: cloudwatch.IMetric, what: str
    ) -> cloudwatch.Alarm:
        return self._alarm(
            id_,
            alarm_description=f"The classifier function reported {what}",
            metric=metric,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _build_training_alarm(self, state_machine: sfn.IStateMachine) -> cloudwatch.Alarm:
        failed = cloudwatch.MathExpression(
            expression="FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)",
            using_metrics={
                "failed": state_machine.metric_failed(period=TRAINING_PERIOD),
                "timedOut": state_machine.metric_timed_out(period=TRAINING_PERIOD),
                "aborted": state_machine.metric_aborted(period=TRAINING_PERIOD),
            },
            period=TRAINING_PERIOD,
            label="failed training executions",
        )
        return self._alarm(
            "TrainingFailed",
            alarm_description="A training / reclassify execution failed, timed out or was aborted",
            metric=failed,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _build_model_load_alarm(self) -> cloudwatch.Alarm:
        # The function survives a bad promotion, so only this alarm says one happened.
        return self._alarm(
            "ModelLoadFailed",
            alarm_description="The pointer names a model the function cannot load: it serves "
            "the last good model; run `imgclf model rollback` or promote a good version",
            metric=function_metric(METRIC_MODEL_LOAD_FAILED, self._service, statistic="Sum").with_(
                period=FUNCTION_PERIOD
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _throughput_metrics(self) -> tuple[cloudwatch.Metric, cloudwatch.Metric]:
        return classified_metric(self._service), rejected_metric(self._service)

    def _metric(self, name: str, statistic: str, label: str) -> cloudwatch.Metric:
        """One of this environment's function metrics, for the dashboard."""
        return function_metric(name, self._service, statistic=statistic, label=label)

    def _build_dashboard(
        self,
        *,
        dashboard_name: str,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        function: lambda_.IFunction,
        state_machine: sfn.IStateMachine,
    ) -> cloudwatch.Dashboard:
        def graph(title: str, *metrics: cloudwatch.IMetric) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=list(metrics), width=WIDGET_WIDTH)

        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=dashboard_name, default_interval=Duration.hours(3)
        )
        dashboard.add_widgets(
            graph("Throughput (images / 5 min)", *self._throughput_metrics()),
            graph(
                "Latency (ms)",
                self._metric(METRIC_LATENCY, "p50", "p50"),
                self._metric(METRIC_LATENCY, "p99", "p99"),
            ),
            graph(
                "Backlog",
                queue.metric_approximate_number_of_messages_visible(label="visible"),
                queue.metric_approximate_number_of_messages_not_visible(label="in flight"),
                queue.metric_approximate_age_of_oldest_message(label="oldest (s)"),
            ),
        )
        dashboard.add_widgets(
            graph(
                "Dead-letter queue",
                dead_letter_queue.metric_approximate_number_of_messages_visible(label="DLQ"),
            ),
            graph("Rejects", rejected_metric(self._service)),
            graph(
                "Errors",
                function.metric_errors(statistic=cloudwatch.Stats.SUM, label="function errors"),
                function.metric_throttles(statistic=cloudwatch.Stats.SUM, label="throttles"),
                self._metric(METRIC_RECORDS_FAILED, "Sum", "records failed"),
                self._metric(METRIC_MODEL_LOAD_FAILED, "Sum", "loads failed"),
            ),
        )
        dashboard.add_widgets(
            graph(
                "Training executions",
                state_machine.metric_succeeded(label="succeeded"),
                state_machine.metric_failed(label="failed"),
            ),
            graph(
                "Function",
                function.metric_invocations(statistic=cloudwatch.Stats.SUM, label="invocations"),
                function.metric_duration(statistic="p99", label="duration p99 (ms)"),
            ),
            cloudwatch.AlarmStatusWidget(
                title="Alarms", alarms=list(self.alarms), width=WIDGET_WIDTH
            ),
        )
        return dashboard


def function_metric(
    name: str, service: str, *, statistic: str, label: str | None = None
) -> cloudwatch.Metric:
    """One of the classifier function's Powertools metrics, from one environment's function
    (`service`: infra.resources.metrics_service)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service},
        statistic=statistic,
        period=THROUGHPUT_PERIOD,
        label=label,
    )


def classified_metric(service: str) -> cloudwatch.Metric:
    return function_metric(METRIC_CLASSIFIED, service, statistic="Sum", label="classified")


def rejected_metric(service: str) -> cloudwatch.Metric:
    return function_metric(METRIC_REJECTED, service, statistic="Sum", label="rejected")
