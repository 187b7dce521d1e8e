"""Requests and compute per image, to dollars: the pure half of bench/cost.py."""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import prices

PER_MILLION = 1_000_000
SQS_RECEIVE_MAX_MESSAGES = 10  # one ReceiveMessage or DeleteMessageBatch handles up to 10


# --- rounding rules ---------------------------------------------------------------------
def billed_ms(seconds: float) -> int:
    """Lambda bills each invocation's duration rounded up to the next 1 ms (at least 1 ms)."""
    # The epsilon keeps a float like 0.1 s (100.00000000000001 ms) from billing 101 ms.
    return max(1, math.ceil(seconds * 1000 - 1e-9))


def gb_seconds(milliseconds: float, memory_mb: int) -> float:
    """Lambda's GB-seconds: billed time times configured memory (1 GB = 1,024 MB)."""
    return milliseconds / 1000 * memory_mb / 1024


def sqs_billed_requests(payload_bytes: int) -> int:
    """An SQS request is billed once per started 64 KB chunk of its payload."""
    return max(1, math.ceil(payload_bytes / prices.SQS_BILLING_CHUNK_BYTES))


def read_units(size_bytes: int, *, consistent: bool = True) -> float:
    """Read request units for one GetItem: 4 KB per unit, halved when eventually consistent.
    (Item sizes and write units: infra.table_costs.)"""
    units = max(1, math.ceil(size_bytes / prices.DYNAMODB_READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


# --- usage per image, and its price ----------------------------------------------------------
@dataclass(frozen=True)
class Usage:
    """What one image costs, averaged over a run: requests by billing class and compute."""

    lambda_invocations: float = 0.0
    lambda_billed_ms: float = 0.0
    memory_mb: int = 1024
    sqs_requests: float = 0.0  # billed requests (64 KB chunks counted)
    s3_get_class: float = 0.0
    s3_put_class: float = 0.0
    dynamodb_read_units: float = 0.0
    dynamodb_write_units: float = 0.0
    ssm_interactions: float = 0.0  # free at standard throughput
    log_bytes: float = 0.0


def cost_per_image(usage: Usage, *, ssm_higher_throughput: bool = False) -> dict[str, float]:
    """Dollars per image, by line of the bill."""
    return {
        "Lambda requests": usage.lambda_invocations * prices.LAMBDA_REQUEST,
        "Lambda duration (arm64)": gb_seconds(usage.lambda_billed_ms, usage.memory_mb)
        * prices.LAMBDA_ARM64_GB_SECOND,
        "SQS requests": usage.sqs_requests * prices.SQS_STANDARD_REQUEST,
        "S3 GET-class requests": usage.s3_get_class * prices.S3_GET_CLASS_REQUEST,
        "S3 PUT-class requests": usage.s3_put_class * prices.S3_PUT_CLASS_REQUEST,
        "DynamoDB reads (on-demand)": usage.dynamodb_read_units * prices.DYNAMODB_READ_REQUEST_UNIT,
        "DynamoDB writes (on-demand)": usage.dynamodb_write_units
        * prices.DYNAMODB_WRITE_REQUEST_UNIT,
        "SSM GetParameter": usage.ssm_interactions
        * (prices.SSM_HIGHER_THROUGHPUT_INTERACTION if ssm_higher_throughput else 0.0),
        "CloudWatch Logs ingestion": usage.log_bytes / 1024**3 * prices.CLOUDWATCH_LOGS_INGESTED_GB,
    }


def per_million(dollars_per_image: float) -> float:
    return dollars_per_image * PER_MILLION


def floor_usage(*, tags: bool, message_bytes: int) -> Usage:
    """The requests no design can avoid: one GET, one queue message (its send, and its share
    of a 10-message receive and delete), one 1-unit write, and one tag write if tags are on."""
    share = 1 / SQS_RECEIVE_MAX_MESSAGES
    return Usage(
        sqs_requests=sqs_billed_requests(message_bytes) + 2 * share,
        s3_get_class=1.0,
        s3_put_class=1.0 if tags else 0.0,
        dynamodb_write_units=1.0,
    )


def index_entry_per_million(entry_bytes: int, share: float = 1.0) -> float:
    """Dollars per 1M images of one more GSI entry of `entry_bytes` written for `share` of the
    images (a sparse index holds only the items with its keys): 1 write unit per started KB."""
    units = max(1, math.ceil(entry_bytes / 1024))
    return per_million(share * units * prices.DYNAMODB_WRITE_REQUEST_UNIT)


def tag_storage_per_million_objects_month(tags_per_object: float) -> float:
    """S3 object tag storage, dollars per month for 1M tagged objects."""
    return tags_per_object * PER_MILLION * prices.S3_TAG_MONTH


def rekognition_detect_labels_per_million() -> float:
    return per_million(prices.REKOGNITION_DETECT_LABELS_IMAGE)


def custom_labels_per_million(images_per_second_per_unit: float) -> float:
    """Custom Labels at full utilisation: unit-hours for 1M images at the assumed throughput."""
    hours = PER_MILLION / images_per_second_per_unit / 3600
    return hours * prices.REKOGNITION_CUSTOM_LABELS_INFERENCE_UNIT_HOUR


def last_line(tags_off: float, tags_on: float) -> str:
    """The bench's last line: dollars per 1M images, 2 decimals."""
    return f"per 1M images: ${tags_off:.2f} tags off, ${tags_on:.2f} tags on"
