"""boto3 adapters: the images bucket, the results table, the model pointer and artifacts.

The only module that imports boto3. Clients are created once per process and honour
AWS_ENDPOINT_URL, which is how the local environment points them at moto.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .classify import TagsRejectedError
from .contracts import TABLE_PARTITION_KEY, ModelPointer, object_pk
from .imaging import RejectedImageError
from .model import ModelUnavailableError
from .results import ORDER_ATTRIBUTE

# Adaptive retries absorb short throttling bursts; whatever is left goes back to the queue.
_CLIENT_CONFIG = Config(retries={"max_attempts": 4, "mode": "adaptive"}, max_pool_connections=32)
_MISSING_OBJECT_CODES = ("NoSuchKey", "NoSuchVersion", "404", "NotFound")
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


def client(service: str) -> Any:
    """A boto3 client with the function's retry policy."""
    return boto3.client(service, config=_CLIENT_CONFIG)


def resource(service: str) -> Any:
    """A boto3 resource with the function's retry policy."""
    return boto3.resource(service, config=_CLIENT_CONFIG)


class S3Objects:
    """Reads images and merges tags on the images bucket."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def get(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> ObjectData:
        """GET an object; rejects it from ContentLength before reading an oversized body."""
        args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        try:
            response = self._s3.get_object(**args)
        except ClientError as error:
            if _code(error) in _MISSING_OBJECT_CODES:
                raise ObjectGoneError(f"s3://{bucket}/{key} no longer exists") from None
            raise
        size = int(response.get("ContentLength", 0))
        body = response["Body"]
        if size > max_bytes:
            body.close()
            raise RejectedImageError(
                f"file is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:.1f} MB limit"
            )
        data = body.read()
        return ObjectData(
            body=data,
            etag=str(response.get("ETag", "")).strip('"') or None,
            version_id=response.get("VersionId") if response.get("VersionId") != "null" else None,
            size=len(data),
        )

    def get_tags(self, bucket: str, key: str, version_id: str | None) -> list[dict[str, str]]:
        args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        return list(self._s3.get_object_tagging(**args).get("TagSet", []))

    def put_tags(
        self, bucket: str, key: str, version_id: str | None, tags: list[dict[str, str]]
    ) -> None:
        args: dict[str, Any] = {"Bucket": bucket, "Key": key, "Tagging": {"TagSet": tags}}
        if version_id:
            args["VersionId"] = version_id
        try:
            self._s3.put_object_tagging(**args)
        except ClientError as error:
            code = _code(error)
            if code in _REJECTED_TAGS_CODES:
                message = " ".join(str(error.response.get("Error", {}).get("Message", "")).split())
                raise TagsRejectedError(f"{code}: {message}"[:_MAX_REASON_CHARS]) from None
            raise


class DynamoResults:
    """The results table: conditional writes make every write idempotent and ordered."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._table = dynamodb.Table(table_name)

    def get(self, bucket: str, key: str) -> dict[str, Any] | None:
        response = self._table.get_item(
            Key={TABLE_PARTITION_KEY: object_pk(bucket, key)}, ConsistentRead=True
        )
        item = response.get("Item")
        return dict(item) if item else None

    def put(self, item: dict[str, Any]) -> bool:
        """Write unless the table holds a newer event, or this very result; False if not."""
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
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def delete(self, bucket: str, key: str, order: str) -> bool:
        """Delete the item unless it records an event newer than the removal."""
        try:
            self._table.delete_item(
                Key={TABLE_PARTITION_KEY: object_pk(bucket, key)},
                ConditionExpression="attribute_not_exists(#pk) OR #order <= :order",
                ExpressionAttributeNames={"#pk": TABLE_PARTITION_KEY, "#order": ORDER_ATTRIBUTE},
                ExpressionAttributeValues={":order": order},
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
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
            if _code(error) == "ParameterNotFound":
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
            if _code(error) in _MISSING_OBJECT_CODES:
                raise ModelUnavailableError(f"model artifact {uri} does not exist") from None
            raise
        return bytes(response["Body"].read())


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
