"""One imgclf environment as one stack: it only composes the constructs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from classifier.contracts import model_pointer_name
from infra.constructs.inference import InferenceConstruct
from infra.constructs.monitoring import MonitoringConstruct
from infra.constructs.nag import suppress_cdk_internals
from infra.constructs.storage import StorageConstruct
from infra.constructs.training import TrainingConstruct
from infra.environment_config import EnvironmentConfig
from infra.resources import StackOutputs, function_environment, metrics_service

REPO_ROOT = Path(__file__).resolve().parents[1]


class ImgclfStack(Stack):
    """Storage, inference, training and monitoring of one environment."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        repo_root: Path = REPO_ROOT,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, termination_protection=config.retain_data, **kwargs)
        Tags.of(self).add("project", "imgclf")
        Tags.of(self).add("environment", config.name)
        pointer = model_pointer_name(config.name)

        storage = StorageConstruct(
            self,
            "Storage",
            retain_data=config.retain_data,
            bucket_versioning=config.bucket_versioning,
            noncurrent_version_expiration_days=config.noncurrent_version_expiration_days,
            access_logs=config.access_logs,
            table_deletion_protection=config.table_deletion_protection,
            key_prefix=config.key_prefix,
            key_suffix=config.key_suffix,
            queue_visibility_timeout_seconds=config.queue_visibility_timeout_seconds,
            max_receive_count=config.max_receive_count,
            access_log_retention_days=config.log_retention_days,
        )
        inference = InferenceConstruct(
            self,
            "Inference",
            image_directory=repo_root / "functions" / "classifier",
            images_bucket=storage.images_bucket,
            images_key_prefix=config.key_prefix,
            images_versioned=config.bucket_versioning,
            models_bucket=storage.models_bucket,
            results_table=storage.results_table,
            queue=storage.queue,
            model_pointer_parameter=pointer,
            environment=function_environment(
                config,
                results_table=storage.results_table.table_name,
                model_pointer_parameter=pointer,
            ),
            architecture=config.architecture,
            memory_mb=config.function_memory_mb,
            timeout_seconds=config.function_timeout_seconds,
            batch_size=config.batch_size,
            batch_window_seconds=config.batch_window_seconds,
            max_concurrency=config.max_concurrency,
            log_retention_days=config.log_retention_days,
            retain_logs=config.retain_data,
        )
        training = TrainingConstruct(
            self,
            "Training",
            repo_root=repo_root,
            job_name_prefix=f"imgclf-{config.name}",
            models_bucket=storage.models_bucket,
            images_bucket=storage.images_bucket,
            images_key_prefix=config.key_prefix,
            images_key_suffix=config.key_suffix,
            results_table=storage.results_table,
            queue=storage.queue,
            model_pointer_parameter=pointer,
            instance_type=config.training_instance_type,
            use_spot=config.training_use_spot,
            max_run_seconds=config.training_max_run_seconds,
            max_wait_seconds=config.training_max_wait_seconds,
            max_regression_pp=config.max_regression_pp,
            log_retention_days=config.log_retention_days,
            retain_logs=config.retain_data,
        )
        monitoring = MonitoringConstruct(
            self,
            "Monitoring",
            dashboard_name=f"imgclf-{config.name}",
            alarm_name_prefix=f"imgclf-{config.name}",
            alarm_email=config.alarm_email,
            queue=storage.queue,
            dead_letter_queue=storage.dead_letter_queue,
            function=inference.function,
            state_machine=training.state_machine,
            oldest_message_age_alarm_seconds=config.oldest_message_age_alarm_seconds,
            throughput_floor_per_5_minutes=config.throughput_floor_per_5_minutes,
            retain_key=config.retain_data,
            metrics_service=metrics_service(config.name),
        )
        outputs = {
            StackOutputs.IMAGES_BUCKET: storage.images_bucket.bucket_name,
            StackOutputs.MODELS_BUCKET: storage.models_bucket.bucket_name,
            StackOutputs.RESULTS_TABLE: storage.results_table.table_name,
            StackOutputs.QUEUE_URL: storage.queue.queue_url,
            StackOutputs.DEAD_LETTER_QUEUE_URL: storage.dead_letter_queue.queue_url,
            StackOutputs.STATE_MACHINE_ARN: training.state_machine.state_machine_arn,
            StackOutputs.MODEL_POINTER_PARAMETER: pointer,
            StackOutputs.DASHBOARD_NAME: monitoring.dashboard.dashboard_name,
            StackOutputs.FUNCTION_NAME: inference.function.function_name,
            StackOutputs.INDEX_SHARDS: str(config.index_shards),
        }
        for key, value in outputs.items():
            CfnOutput(self, key, value=value)
        suppress_cdk_internals(self)
