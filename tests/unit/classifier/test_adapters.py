"""adapters: which PutObjectTagging errors are permanent for tagging and which are retried."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from classifier.adapters import S3Objects
from classifier.classify import TagsRejectedError

TAGS = [{"Key": "imgclf:label", "Value": "cat"}]


class RefusingS3:
    """An S3 client whose PutObjectTagging answers with one error code."""

    def __init__(self, code: str, message: str) -> None:
        self.error = ClientError({"Error": {"Code": code, "Message": message}}, "PutObjectTagging")

    def put_object_tagging(self, **kwargs: Any) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("code", "message", "reason"),
    [
        (
            "InvalidTag",
            "The TagValue you have provided is invalid",
            "InvalidTag: The TagValue you have provided is invalid",
        ),
        (
            "BadRequest",
            "Object tags cannot be greater than 10",
            "BadRequest: Object tags cannot be greater than 10",
        ),
        (
            "MalformedXML",
            "The XML you provided was not well-formed\n or did not validate",
            "MalformedXML: The XML you provided was not well-formed or did not validate",
        ),
    ],
)
def test_s3_refusing_the_tag_set_raises_tags_rejected_with_a_one_line_reason(
    code: str, message: str, reason: str
) -> None:
    with pytest.raises(TagsRejectedError) as raised:
        S3Objects(RefusingS3(code, message)).put_tags("images", "a.png", None, TAGS)
    assert raised.value.reason == reason


@pytest.mark.parametrize("code", ["SlowDown", "ServiceUnavailable", "InternalError", "503"])
def test_throttling_and_server_errors_on_tagging_stay_transient(code: str) -> None:
    with pytest.raises(ClientError) as raised:
        S3Objects(RefusingS3(code, "Please reduce your request rate.")).put_tags(
            "images", "a.png", None, TAGS
        )
    assert raised.value.response["Error"]["Code"] == code  # re-raised as is, for a retry
