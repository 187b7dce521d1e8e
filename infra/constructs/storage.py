"""Storage: images, models and (where data is retained) access-log buckets, the queue and its
DLQ, the results table."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from classifier.contracts import EXPIRES_ATTRIBUTE, TABLE_PARTITION_KEY
from infra.constructs.nag import suppress
from infra.resources import NOTIFICATION_EVENTS, RESULTS_TABLE_INDEXES

# Parts of a multipart upload that never completed are billed until aborted.
ABORT_INCOMPLETE_UPLOADS = Duration.days(7)
DLQ_RETENTION = Duration.days(14)  # SQS's maximum: time to notice the alarm and redrive
QUEUE_RETENTION = Duration.days(4)
# infra.resources.NOTIFICATION_EVENTS (S3's names) -> CDK's enum; a new event there fails here.
EVENT_TYPES = {
    "s3:ObjectCreated:*": s3.EventType.OBJECT_CREATED,
    "s3:ObjectRemoved:*": s3.EventType.OBJECT_REMOVED,
    "s3:LifecycleExpiration:*": s3.EventType.LIFECYCLE_EXPIRATION,
    "s3:ObjectRestore:Completed": s3.EventType.OBJECT_RESTORE_COMPLETED,
}


class StorageConstruct(Construct):
    """Where images, models and results live, and the queue between S3 and the function."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        retain_data: bool,
        bucket_versioning: bool,
        noncurrent_version_expiration_days: int,
        access_logs: bool,
        table_deletion_protection: bool,
        key_prefix: str,
        key_suffix: str,
        queue_visibility_timeout_seconds: int,
        max_receive_count: int,
        access_log_retention_days: int,
    ) -> None:
        super().__init__(scope, id_)
        self._retain_data = retain_data
        self._removal_policy = RemovalPolicy.RETAIN if retain_data else RemovalPolicy.DESTROY
        self._noncurrent_expiration = Duration.days(noncurrent_version_expiration_days)
        # Without access logs there is no log bucket: S3 delivers logs best-effort and up to
        # hours late, so no deletion order can keep a destroyable log bucket empty.
        self.access_logs_bucket = (
            self._build_access_logs_bucket(
                versioned=bucket_versioning, retention_days=access_log_retention_days
            )
            if access_logs
            else None
        )
        self.images_bucket = self._build_data_bucket("ImagesBucket", "images/", bucket_versioning)
        self.models_bucket = self._build_data_bucket("ModelsBucket", "models/", bucket_versioning)
        self.dead_letter_queue = self._build_dead_letter_queue()
        self.queue = self._build_queue(
            visibility_timeout_seconds=queue_visibility_timeout_seconds,
            max_receive_count=max_receive_count,
        )
        self._build_notifications(key_prefix=key_prefix, key_suffix=key_suffix)
        self.results_table = self._build_results_table(
            deletion_protection=table_deletion_protection
        )

    def _build_access_logs_bucket(self, *, versioned: bool, retention_days: int) -> s3.Bucket:
        return self._build_bucket(
            "AccessLogsBucket", versioned=versioned, expiration=Duration.days(retention_days)
        )

    def _build_data_bucket(self, id_: str, log_prefix: str, versioned: bool) -> s3.Bucket:
        bucket = self._build_bucket(
            id_,
            versioned=versioned,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix=log_prefix if self.access_logs_bucket else None,
        )
        if self.access_logs_bucket is None:
            suppress(
                bucket.node.default_child,  # type: ignore[arg-type]
                "AwsSolutions-S1",
                "Server access logs only where data is retained (the access_logs setting): "
                "logs arrive up to hours late, so a log bucket that `cdk destroy` empties "
                "fills again and its deletion fails with BucketNotEmpty. This is a disposable "
                "environment; where data is kept, every request is logged.",
            )
        return bucket

    def _build_bucket(
        self,
        id_: str,
        *,
        versioned: bool,
        expiration: Duration | None = None,
        server_access_logs_bucket: s3.IBucket | None = None,
        server_access_logs_prefix: str | None = None,
    ) -> s3.Bucket:
        # Every bucket aborts abandoned multipart uploads; a versioned one also deletes the
        # versions an overwrite or a delete left behind, once they are that many days old.
        lifecycle_rule = s3.LifecycleRule(
            expiration=expiration,
            abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_UPLOADS,
            noncurrent_version_expiration=self._noncurrent_expiration if versioned else None,
        )
        # Server access logs support SSE-S3 only, hence S3_MANAGED on every bucket.
        return s3.Bucket(
            self,
            id_,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=versioned,
            lifecycle_rules=[lifecycle_rule],
            server_access_logs_bucket=server_access_logs_bucket,
            server_access_logs_prefix=server_access_logs_prefix,
            removal_policy=self._removal_policy,
            auto_delete_objects=not self._retain_data,
        )

    def _build_dead_letter_queue(self) -> sqs.Queue:
        dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
            removal_policy=self._removal_policy,
        )
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            suppress(
                dead_letter_queue.node.default_child,  # type: ignore[arg-type]
                rule,
                "This is the images queue's dead-letter queue: a DLQ behind it would hide "
                "the failures that the DLQ-not-empty alarm and `dlq redrive` are for.",
            )
        return dead_letter_queue

    def _build_queue(self, *, visibility_timeout_seconds: int, max_receive_count: int) -> sqs.Queue:
        # SSE-SQS rather than KMS: S3 can deliver notifications to it without a key policy.
        return sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(visibility_timeout_seconds),
            retention_period=QUEUE_RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=max_receive_count
            ),
            removal_policy=self._removal_policy,
        )

    def _build_notifications(self, *, key_prefix: str, key_suffix: str) -> None:
        filters = (
            [s3.NotificationKeyFilter(prefix=key_prefix or None, suffix=key_suffix or None)]
            if key_prefix or key_suffix
            else []
        )
        destination = s3n.SqsDestination(self.queue)
        for event in NOTIFICATION_EVENTS:
            self.images_bucket.add_event_notification(EVENT_TYPES[event], destination, *filters)

    def _build_results_table(self, *, deletion_protection: bool) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            "ResultsTable",
            partition_key=dynamodb.Attribute(
                name=TABLE_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            # the markers removals leave expire (classifier.contracts.REMOVED_STATUS)
            time_to_live_attribute=EXPIRES_ATTRIBUTE,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=deletion_protection,
            removal_policy=self._removal_policy,
        )
        # Write-sharded partitions and an INCLUDE projection of what queries show and filter
        # on (classifier.contracts.RESULTS_INDEXES says why).
        for index in RESULTS_TABLE_INDEXES:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=dynamodb.Attribute(
                    name=index.partition_key, type=dynamodb.AttributeType.STRING
                ),
                sort_key=dynamodb.Attribute(
                    name=index.sort_key, type=dynamodb.AttributeType.STRING
                ),
                projection_type=dynamodb.ProjectionType.INCLUDE,
                non_key_attributes=list(index.projection),
            )
        return table
