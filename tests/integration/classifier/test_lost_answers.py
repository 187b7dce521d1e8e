"""Writes whose answer is lost (the request applied, then a read timeout) on a real moto server.

botocore retries such a write; the conditional put then fails against its own earlier
attempt. The adapter must count it as written, or the image would be recorded without tags
and without its metric.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.config import Config

from classifier.adapters import DynamoResults
from infra.local.faults import FaultInjector, FaultPlan
from infra.local.server import DUMMY_CREDENTIALS, LOCAL_REGION, MotoServer
from infra.resources import results_table_create_args

TABLE = "results"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with MotoServer() as server:
        yield server.endpoint_url


def session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=LOCAL_REGION,
    )


def item(order: str = "T1#01") -> dict[str, Any]:
    return {
        "pk": "images/a.png", "bucket": "images", "key": "a.png", "etag": "e1",
        "model_version": "v1", "event_order": order, "status": "CLASSIFIED",
        "label": "red", "confidence": Decimal("0.9"), "classified_at": "2026-11-23T00:00:00Z",
    }  # fmt: skip


def test_a_put_whose_answer_was_lost_counts_as_written(endpoint: str) -> None:
    # Given a table, and a plan that loses the answer of the first PutItem after it applied
    admin = session().client("dynamodb", endpoint_url=endpoint)
    admin.create_table(**results_table_create_args(TABLE))
    injector = FaultInjector(FaultPlan.from_dict({"calls": [
        {"service": "dynamodb", "operation": "PutItem", "read_timeout": 1, "read_timeout_ms": 0},
    ]}))  # fmt: skip
    dynamodb = session().resource(
        "dynamodb",
        endpoint_url=endpoint,
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
    )
    injector.install(dynamodb.meta.client.meta.events)
    dynamodb.meta.client.meta.events.register(
        "needs-retry.dynamodb.PutItem", lambda **_: injector.lift()
    )
    results = DynamoResults(dynamodb, TABLE)
    # When the item is put: the first attempt applies and times out, botocore retries
    written = results.put(item())
    # Then the retry's failed condition is recognised as this very write
    assert written is True
    assert injector.counts() == {"read_timeout": 1}
    assert [w.pk for w in injector.journal.item_writes()] == ["images/a.png"]
    assert results.get("images", "a.png") == item()
    # And a genuinely newer result still refuses an older one
    assert results.put(item("T2#02")) is True
    assert results.put(item("T1#01")) is False
