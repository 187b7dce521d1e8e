"""Deleting dev leaves nothing behind; prod keeps its data; old versions do not pile up.

`cdk destroy` of dev used to fail with BucketNotEmpty on the access-log bucket: S3 delivers
server access logs best-effort and up to hours late, so logs about the requests that emptied
the other buckets (and the log bucket itself) kept arriving after autoDeleteObjects emptied
it. No deletion order fixes that, so dev has no access logs and no log bucket at all
(`access_logs`, which needs `removal_policy: retain`).
"""

from __future__ import annotations

from typing import Any

import pytest

from infra.constructs.storage import ABORT_INCOMPLETE_UPLOADS
from infra.environment_config import ConfigError, load_environment


def _auto_deleted(env: Any) -> set[str]:
    """The buckets a Custom::S3AutoDeleteObjects empties before they are deleted."""
    return {
        resource["Properties"]["BucketName"]["Ref"]
        for resource in env.resources("Custom::S3AutoDeleteObjects").values()
    }


def test_dev_deletes_every_bucket_and_empties_it_first(dev: Any) -> None:
    buckets = dev.resources("AWS::S3::Bucket")
    assert buckets
    for logical_id, bucket in buckets.items():
        # Then each bucket goes with the stack, emptied first
        assert bucket["DeletionPolicy"] == "Delete", logical_id
        assert bucket["UpdateReplacePolicy"] == "Delete", logical_id
    assert _auto_deleted(dev) == set(buckets)


def test_nothing_writes_into_a_dev_bucket_after_it_is_emptied(dev: Any) -> None:
    # Then no bucket sends server access logs anywhere...
    for logical_id, bucket in dev.resources("AWS::S3::Bucket").items():
        assert "LoggingConfiguration" not in bucket["Properties"], logical_id
    # ...and no bucket accepts log deliveries (no log bucket exists to refill)
    assert not dev.config.access_logs
    for policy in dev.resources("AWS::S3::BucketPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement.get("Principal") != {"Service": "logging.s3.amazonaws.com"}


def test_dev_retains_nothing_at_all(dev: Any) -> None:
    # Then no resource of any type outlives `cdk destroy` (keys, logs, tables included)
    retained = [
        logical_id
        for logical_id, resource in dev.data["Resources"].items()
        if resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate", "Snapshot")
    ]
    assert retained == []


def test_prod_retains_its_buckets_and_logs_every_request(prod: Any) -> None:
    buckets = prod.resources("AWS::S3::Bucket")
    logs_id = prod.logical_id("AWS::S3::Bucket", "AccessLogsBucket")
    for logical_id, bucket in buckets.items():
        # Then no bucket goes with the stack, nor is emptied
        assert bucket["DeletionPolicy"] == "Retain", logical_id
        if logical_id != logs_id:
            logging = bucket["Properties"]["LoggingConfiguration"]
            assert logging["DestinationBucketName"] == {"Ref": logs_id}
    assert _auto_deleted(prod) == set()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"access_logs": True}, "access_logs needs removal_policy retain"),
        ({"noncurrent_version_expiration_days": 0}, "noncurrent_version_expiration_days"),
        ({"noncurrent_version_expiration_days": "30"}, "must be a whole number"),
    ],
)
def test_settings_that_would_break_teardown_or_lifecycle_are_refused(
    raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_environment("x", {"x": raw})
    assert load_environment("x", {"x": {"access_logs": True, "removal_policy": "retain"}})


def test_every_bucket_aborts_abandoned_multipart_uploads(env: Any) -> None:
    for logical_id, bucket in env.resources("AWS::S3::Bucket").items():
        rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        aborted = [r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] for r in rules]
        assert aborted == [ABORT_INCOMPLETE_UPLOADS.to_days()], logical_id
        assert all(rule["Status"] == "Enabled" for rule in rules), logical_id


def test_every_versioned_bucket_expires_noncurrent_versions(dev: Any, prod: Any) -> None:
    # Given the settings (guards the loop below from passing vacuously)
    assert prod.config.bucket_versioning and not dev.config.bucket_versioning
    assert prod.config.noncurrent_version_expiration_days == 30
    versioned = 0
    for env in (dev, prod):
        for logical_id, bucket in env.resources("AWS::S3::Bucket").items():
            properties = bucket["Properties"]
            if properties.get("VersioningConfiguration") != {"Status": "Enabled"}:
                continue
            versioned += 1
            # Then old versions are deleted the configured number of days after they are
            # replaced or deleted, instead of being kept (and billed) forever
            expirations = [
                rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
                for rule in properties["LifecycleConfiguration"]["Rules"]
                if rule["Status"] == "Enabled" and "NoncurrentVersionExpiration" in rule
            ]
            assert expirations == [env.config.noncurrent_version_expiration_days], logical_id
    assert versioned == len(prod.resources("AWS::S3::Bucket")) == 3
