"""Fault answers as each service gives them, for botocore to parse and retry as real ones."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import AWSResponse

_S3_ERRORS = {
    "throttle": (503, "SlowDown", "Please reduce your request rate."),
    "internal_error": (500, "InternalError", "We encountered an internal error. Please try again."),
}
_DYNAMODB_PREFIX = "com.amazonaws.dynamodb.v20120810#"
_JSON_ERRORS = {
    "internal_error": (500, "InternalServerError", "Internal server error"),
}


def error_response(request: Any, service: str, kind: str, variant: float) -> AWSResponse:
    request_id = hashlib.sha1(f"{request.url}{variant}".encode()).hexdigest()[:16].upper()
    if service == "s3":
        status, code, message = _S3_ERRORS[kind]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = {"Content-Type": "application/xml", "x-amz-request-id": request_id}
        if request.method == "HEAD":
            body = b""
        return AWSResponse(request.url, status, headers, _Raw(body))
    if kind == "throttle":
        if service == "dynamodb" and variant < 0.5:
            code = "ProvisionedThroughputExceededException"
            message = "The level of configured provisioned throughput for the table was exceeded."
        else:
            code, message = (
                "ThrottlingException",
                "Rate of requests exceeds the allowed throughput.",
            )
        status = 400
    else:
        status, code, message = _JSON_ERRORS[kind]
    if service == "dynamodb":
        code = _DYNAMODB_PREFIX + code
    body = json.dumps({"__type": code, "message": message}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id}
    return AWSResponse(request.url, status, headers, _Raw(body))


class _Raw:
    """The raw body botocore reads from a response it did not receive over HTTP."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any, **__: Any) -> bytes:
        body, self._body = self._body, b""
        return body
