"""Query the results table through its GSIs (never a Scan) and print items."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from rich.table import Table

from classifier.contracts import INDEX_SORT_KEY, LABEL_INDEX, STATUS_INDEX, Status, object_pk

from .deployment import Deployment
from .errors import CliError
from .output import plain

COLUMNS = ("key", "status", "label", "confidence", "model_version", "classified_at", "reason")
CSV_COLUMNS = (*COLUMNS, "latency_ms", "width", "height", "size", "etag")
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> str:
    """`30m`, `2h`, `7d` or an ISO date/time, as the GSI sort key's format (UTC, `Z`)."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text.strip().lower())
    if match:
        moment = now - timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    else:
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise CliError(
                f"--since {text!r} is neither a duration (30m, 2h, 7d) nor an ISO date/time"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_status(text: str) -> Status:
    try:
        return Status(text.upper())
    except ValueError:
        choices = ", ".join(status.value for status in Status)
        raise CliError(f"unknown status {text!r} (use {choices})") from None


def _query(table: Any, **arguments: Any) -> Iterator[dict[str, Any]]:
    while True:
        page = table.query(**arguments)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _filters(min_confidence: float | None, status: Status | None) -> ConditionBase | None:
    condition: ConditionBase | None = None
    if min_confidence is not None:
        condition = Attr("confidence").gte(Decimal(str(min_confidence)))
    if status is not None:
        by_status = Attr("status").eq(status.value)
        condition = by_status if condition is None else condition & by_status
    return condition


def query_results(
    deployment: Deployment,
    *,
    label: str | None = None,
    status: Status | None = None,
    min_confidence: float | None = None,
    since: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Items newest first. A label query uses by_label; otherwise by_status, per status."""
    table = deployment.resource("dynamodb").Table(deployment.results_table)
    if label is not None:
        streams = [_index_items(table, LABEL_INDEX, "label", label, since, min_confidence, status)]
    else:
        statuses = [status] if status is not None else list(Status)
        streams = [
            _index_items(table, STATUS_INDEX, "status", s.value, since, min_confidence, None)
            for s in statuses
        ]
    return _newest_first(streams, limit)


def _index_items(
    table: Any,
    index: str,
    attribute: str,
    value: str,
    since: str | None,
    min_confidence: float | None,
    status: Status | None,
) -> Iterator[dict[str, Any]]:
    condition = Key(attribute).eq(value)
    if since is not None:
        condition = condition & Key(INDEX_SORT_KEY).gte(since)
    arguments: dict[str, Any] = {
        "IndexName": index,
        "KeyConditionExpression": condition,
        "ScanIndexForward": False,
    }
    filters = _filters(min_confidence, status)
    if filters is not None:
        arguments["FilterExpression"] = filters
    return _query(table, **arguments)


def _newest_first(
    streams: list[Iterator[dict[str, Any]]], limit: int | None
) -> list[dict[str, Any]]:
    """Merge per-index streams (each newest first), reading no more pages than needed."""
    heads: list[dict[str, Any] | None] = [next(stream, None) for stream in streams]
    merged: list[dict[str, Any]] = []
    while limit is None or len(merged) < limit:
        candidates = [(i, item) for i, item in enumerate(heads) if item is not None]
        if not candidates:
            break
        index, item = max(candidates, key=lambda pair: str(pair[1].get(INDEX_SORT_KEY, "")))
        merged.append(item)
        heads[index] = next(streams[index], None)
    return merged


def all_items(deployment: Deployment) -> list[dict[str, Any]]:
    """Every item, by status (the by_status index covers every item)."""
    return query_results(deployment)


def get_result(deployment: Deployment, key: str) -> dict[str, Any] | None:
    table = deployment.resource("dynamodb").Table(deployment.results_table)
    return table.get_item(Key={"pk": object_pk(deployment.images_bucket, key)}).get("Item")


def get_results(deployment: Deployment, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Items of many keys (BatchGetItem, 100 at a time), by key."""
    dynamodb = deployment.resource("dynamodb")
    bucket, table = deployment.images_bucket, deployment.results_table
    found: dict[str, dict[str, Any]] = {}
    pending = [{"pk": object_pk(bucket, key)} for key in dict.fromkeys(keys)]
    while pending:
        request = {table: {"Keys": pending[:100]}}
        pending = pending[100:]
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                found[str(item["key"])] = item
            request = response.get("UnprocessedKeys") or {}
    return found


def _cell(item: dict[str, Any], column: str) -> str:
    value = plain(item.get(column))
    if value is None:
        return ""
    if column == "confidence":
        return f"{float(value):.3f}"
    return str(value)


def render_table(items: list[dict[str, Any]], title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False)
    for column in COLUMNS:
        table.add_column(
            column, overflow="fold", justify="right" if column == "confidence" else "left"
        )
    for item in items:
        style = "red" if item.get("status") == Status.REJECTED else None
        table.add_row(*(_cell(item, column) for column in COLUMNS), style=style)
    return table


def to_json(items: list[dict[str, Any]]) -> str:
    return json.dumps([plain(item) for item in items], indent=2, sort_keys=True)


def to_csv(items: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        writer.writerow(_cell(item, column) for column in CSV_COLUMNS)
    return buffer.getvalue()
