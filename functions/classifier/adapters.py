"""boto3 adapters: the images bucket, the results table, the model pointer and artifacts.

The only module that imports boto3. Clients are created once per process and honour
AWS_ENDPOINT_URL, which is how the local environment points them at moto.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from . import reasons
from .classify import ObjectChangedError, TagsRejectedError
from .contracts import (
    LABEL_REGISTRY_PK,
    LABEL_REGISTRY_VALUES,
    MAX_RECORD_CONCURRENCY,
    TABLE_PARTITION_KEY,
    ModelPointer,
    is_removed,
    object_pk,
    registry_values,
)
from .imaging import RejectedImageError
from .model import ModelUnavailableError
from .results import ORDER_ATTRIBUTE, Write, removed_item

# How a GetObject error is handled, code by code (S3 API reference, GetObject "Errors", and
# the error-code list). Anything not listed is transient: retried, then the DLQ.
# Gone: nothing left to read; the event is acknowledged and nothing is written.
_GONE_CODES = ("NoSuchKey", "NoSuchVersion", "NoSuchBucket", "404", "NotFound", "MethodNotAllowed")
# Changed: If-Match failed, the key holds a newer object whose own event records it.
_CHANGED_CODES = ("PreconditionFailed", "412")
# Permanent: the object exists, but no retry will ever let the function read it.
_UNREADABLE = {
    "InvalidObjectState": (
        "the object is archived ({storage_class}): restore it, or copy it to a readable "
        "storage class, to classify it"
    ),
    "InvalidRequest": (
        "the object cannot be read as stored: {message} (for example encrypted with a "
        "customer-provided key, SSE-C, which the function never has)"
    ),
    "InvalidArgument": "S3 refuses to read the object: {message}",
    "AccessDenied": (
        "access denied: the function may not read this object (a bucket policy, object "
        "ownership, or the KMS key it is encrypted with): {message}"
    ),
    "KMS.DisabledException": "the KMS key that encrypts the object is disabled: {message}",
    "KMS.KMSInvalidStateException": "the object's KMS key cannot be used: {message}",
    "KMS.NotFoundException": "the KMS key that encrypts the object no longer exists: {message}",
}
# What PutObjectTagging answers when the tag set itself is unacceptable (a value outside S3's
# pattern, more than 10 tags, a malformed set): the same request would fail on every retry.
_REJECTED_TAGS_CODES = ("InvalidTag", "BadRequest", "MalformedXML")
_MAX_REASON_CHARS = 300


class ObjectGoneError(LookupError):
    """The object was deleted before it could be read: nothing to record."""


@dataclass(frozen=True)
class ObjectData:
    """An object's bytes and the identity of the version that was read."""

    body: bytes
    etag: str | None
    version_id: str | None
    size: int
    # The object's tag count as the GET reported it. S3 omits the header for an object with
    # no tags, and also to a caller without s3:GetObjectTagging, which the function always
    # has (infra/constructs/inference.py): so an absent count is 0.
    tag_count: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    """botocore's retry mode and attempts, and the socket timeouts, for every client."""

    mode: str = "standard"
    max_attempts: int = 5  # in all, the first included (like AWS_MAX_ATTEMPTS)
    connect_timeout: float = 2.0
    read_timeout: float = 10.0

    def config(self) -> Config:
        return Config(
            retries={"mode": self.mode, "total_max_attempts": self.max_attempts},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_pool_connections=MAX_RECORD_CONCURRENCY,  # a socket for each record at once
        )


def client(service: str, policy: RetryPolicy | None = None) -> Any:
    """A boto3 client with the function's retry policy."""
    return boto3.client(service, config=(policy or RetryPolicy()).config())


def resource(service: str, policy: RetryPolicy | None = None) -> Any:
    """A boto3 resource with the function's retry policy."""
    return boto3.resource(service, config=(policy or RetryPolicy()).config())


class S3Objects:
    """Reads images and merges tags on the images bucket."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def get(self, bucket: str, key: str, expected_etag: str | None, max_bytes: int) -> ObjectData:
        """GET the key's current object, if it is still `expected_etag`; rejects it from
        ContentLength before reading an oversized body."""
        args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if expected_etag:
            args["IfMatch"] = f'"{expected_etag}"'
        try:
            response = self._s3.get_object(**args)
        except ClientError as error:
            raise _read_error(error, f"s3://{bucket}/{key}") from None
        size = int(response.get("ContentLength", 0))
        body = response["Body"]
        if size > max_bytes:
            body.close()
            raise RejectedImageError(
                f"file is {reasons.over_limit(size, max_bytes, reasons.mib, 'bytes')}"
            )
        data = body.read()
        return ObjectData(
            body=data,
            etag=str(response.get("ETag", "")).strip('"') or None,
            version_id=response.get("VersionId") if response.get("VersionId") != "null" else None,
            size=len(data),
            tag_count=int(response.get("TagCount") or 0),
        )

    def current_etag(self, bucket: str, key: str) -> str | None:
        """The etag of the key's current object; None if it has none (or a delete marker)."""
        try:
            response = self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error_code(error) in _GONE_CODES:
                return None
            raise
        return str(response.get("ETag", "")).strip('"') or None

    def get_tags(self, bucket: str, key: str, version_id: str | None) -> list[dict[str, str]]:
        args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        try:
            return list(self._s3.get_object_tagging(**args).get("TagSet", []))
        except ClientError as error:
            if error_code(error) in _GONE_CODES:
                raise ObjectGoneError(f"s3://{bucket}/{key} no longer exists") from None
            raise

    def put_tags(
        self, bucket: str, key: str, version_id: str | None, tags: list[dict[str, str]]
    ) -> None:
        args: dict[str, Any] = {"Bucket": bucket, "Key": key, "Tagging": {"TagSet": tags}}
        if version_id:
            args["VersionId"] = version_id
        try:
            self._s3.put_object_tagging(**args)
        except ClientError as error:
            code = error_code(error)
            if code in _GONE_CODES:
                raise ObjectGoneError(f"s3://{bucket}/{key} no longer exists") from None
            if code in _REJECTED_TAGS_CODES:
                message = " ".join(str(error.response.get("Error", {}).get("Message", "")).split())
                raise TagsRejectedError(f"{code}: {message}"[:_MAX_REASON_CHARS]) from None
            raise


class DynamoResults:
    """The results table: conditional writes make every write idempotent and ordered."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._table = dynamodb.Table(table_name)
        self._registered: set[str] = set()  # index values known to be in the registry
        self._registry_read = False

    def get(self, bucket: str, key: str) -> dict[str, Any] | None:
        response = self._table.get_item(
            Key={TABLE_PARTITION_KEY: object_pk(bucket, key)}, ConsistentRead=True
        )
        item = response.get("Item")
        return dict(item) if item and not is_removed(item) else None

    def put(self, item: dict[str, Any]) -> bool:
        """`write`, as True if the item is in the table."""
        return self.write(item).written

    def write(self, item: dict[str, Any]) -> Write:
        """Write unless the table holds a newer event, or this very result.

        If the condition fails because an earlier attempt of this same write took effect
        (its answer was lost and botocore retried), the write counts as done. The item's
        index values are registered first (`register`), so a listing never misses it.
        """
        for value in registry_values(item):
            self.register(value)
        try:
            self._table.put_item(
                Item=item,
                ConditionExpression=(
                    "attribute_not_exists(#pk) OR #order < :order OR "
                    "(#order = :order AND (model_version <> :model OR etag <> :etag))"
                ),
                ExpressionAttributeNames={"#pk": TABLE_PARTITION_KEY, "#order": ORDER_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":order": item[ORDER_ATTRIBUTE],
                    ":model": item["model_version"],
                    ":etag": item.get("etag", ""),
                },
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                current = self.get(str(item["bucket"]), str(item["key"]))
                return Write(current == item, current)
            raise
        return Write(True)

    def register(self, value: str) -> None:
        """Add an index value to the registry item (contracts.LABEL_REGISTRY_PK), once per
        runtime and value and only if the registry lacks it: an idempotent ADD to a string
        set. The registry is read once per runtime first, because an update costs a write
        unit per KB of the whole item, and with generic labels it lists hundreds of values."""
        if value in self._registered:
            return
        if not self._registry_read:
            response = self._table.get_item(
                Key={TABLE_PARTITION_KEY: LABEL_REGISTRY_PK}, ConsistentRead=True
            )
            listed = (response.get("Item") or {}).get(LABEL_REGISTRY_VALUES) or set()
            self._registered.update(str(v) for v in listed)
            self._registry_read = True
            if value in self._registered:
                return
        self._table.update_item(
            Key={TABLE_PARTITION_KEY: LABEL_REGISTRY_PK},
            UpdateExpression="ADD #values :value",
            ExpressionAttributeNames={"#values": LABEL_REGISTRY_VALUES},
            ExpressionAttributeValues={":value": {value}},
        )
        self._registered.add(value)

    def advance(self, item: dict[str, Any], order: str) -> bool:
        """Move an item's event order forward (a duplicate of a newer event), nothing else."""
        return self._update_if_same(
            item,
            "SET #order = :order",
            "#order < :order",
            {":order": order},
        )

    def record_tags(self, item: dict[str, Any], state: str) -> bool:
        """Set the item's `tags` (what happened to its tags), if it is still this result."""
        return self._update_if_same(
            item, "SET #tags = :state", None, {":state": state}, {"#tags": "tags"}
        )

    def _update_if_same(
        self,
        item: dict[str, Any],
        update: str,
        condition: str | None,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> bool:
        """Update the item if the table still holds this result (order, model, etag)."""
        same = "#order = :was AND model_version = :model AND etag = :etag"
        try:
            self._table.update_item(
                Key={TABLE_PARTITION_KEY: item[TABLE_PARTITION_KEY]},
                UpdateExpression=update,
                ConditionExpression=f"{condition} AND {same}" if condition else same,
                ExpressionAttributeNames={"#order": ORDER_ATTRIBUTE, **(names or {})},
                ExpressionAttributeValues={
                    ":was": item[ORDER_ATTRIBUTE],
                    ":model": item.get("model_version", ""),
                    ":etag": item.get("etag", ""),
                    **values,
                },
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def remove(self, bucket: str, key: str, order: str) -> bool:
        """Replace the item with a removal marker (results.removed_item) unless it records an
        event newer than the removal. Its answer lost and retried, it writes the same marker."""
        try:
            self._table.put_item(
                Item=removed_item(bucket, key, order, time.time()),
                ConditionExpression="attribute_not_exists(#pk) OR #order <= :order",
                ExpressionAttributeNames={"#pk": TABLE_PARTITION_KEY, "#order": ORDER_ATTRIBUTE},
                ExpressionAttributeValues={":order": order},
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True


class SsmModelPointer:
    """Reads the model pointer parameter."""

    def __init__(self, ssm: Any, parameter_name: str) -> None:
        self._ssm = ssm
        self._name = parameter_name

    def __call__(self) -> ModelPointer:
        try:
            value = self._ssm.get_parameter(Name=self._name)["Parameter"]["Value"]
        except ClientError as error:
            if error_code(error) == "ParameterNotFound":
                raise ModelUnavailableError(
                    f"no model promoted: parameter {self._name} does not exist"
                ) from None
            raise
        try:
            return ModelPointer.from_json(value)
        except ValueError as error:
            raise ModelUnavailableError(
                f"no model promoted: {self._name} holds no usable pointer ({error})"
            ) from None


class S3Artifacts:
    """Downloads model artifacts by s3:// URI."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def __call__(self, uri: str) -> bytes:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
            raise ModelUnavailableError(f"model artifact URI {uri!r} is not s3://bucket/key")
        try:
            response = self._s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
        except ClientError as error:
            if error_code(error) in _GONE_CODES:
                raise ModelUnavailableError(f"model artifact {uri} does not exist") from None
            raise
        return bytes(response["Body"].read())


def error_code(error: ClientError) -> str:
    """An AWS error's code (`NoSuchKey`, `ConditionalCheckFailedException`, `404`, ...)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def _read_error(error: ClientError, where: str) -> Exception:
    """What a failed GetObject means for the core: gone, changed, unreadable, or transient."""
    code = error_code(error)
    details = error.response.get("Error", {})
    if code in _GONE_CODES:
        return ObjectGoneError(f"{where} no longer exists")
    if code in _CHANGED_CODES:
        return ObjectChangedError(f"{where} was replaced since the event")
    template = _UNREADABLE.get(code)
    if template is None:
        transient: Exception = error  # retried, or a deployment fault for the DLQ and its alarm
        return transient
    message = " ".join(str(details.get("Message", "")).split()).rstrip(".") or code
    storage_class = details.get("StorageClass") or "an archive storage class"
    reason = template.format(message=message, storage_class=storage_class)
    return RejectedImageError(reason[:_MAX_REASON_CHARS])
