"""Query the results table through its GSIs, by_label and by_second_label (never a Scan),
and read items (result_formats.py prints them).

Every partition a query needs (each shard of a label, or of the rejects; see
classifier.contracts' write sharding) is asked on its own thread, and the streams are merged
newest first. A query across labels asks every value in the label registry
(contracts.LABEL_REGISTRY_PK), which the function fills before it writes under a new value.
The queries go through the DynamoDB client, which is thread-safe, with expressions built per
query (boto3's Table resource shares one expression builder between calls). The index
projects what the table and CSV formats show (contracts.INDEX_PROJECTION); `full_items`
reads the whole items for JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, ConditionExpressionBuilder, Key
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from classifier.contracts import (
    COLOUR_FAMILIES,
    INDEX_SORT_KEY,
    LABEL_INDEX,
    LABEL_REGISTRY_PK,
    LABEL_REGISTRY_VALUES,
    REJECTED_PARTITION,
    RESULTS_INDEXES,
    TABLE_PARTITION_KEY,
    ShardedIndex,
    Status,
    is_removed,
    object_pk,
    registry_values,
    shard_values,
)

from .deployment import Deployment
from .errors import CliError

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_PARALLEL_QUERIES = 16
_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def parse_since(text: str, now: datetime | None = None) -> str:
    """`30m`, `2h`, `7d` or an ISO date/time, as the GSI sort key's format (UTC, `Z`)."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text.strip().lower())
    if match:
        try:
            moment = now - timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
        except OverflowError:
            raise CliError(f"--since {text!r} reaches back before the year 1") from None
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


@dataclass(frozen=True)
class ColourQuery:
    """`--colour`: the family, and the palette name, the dominant colour must have."""

    family: str
    name: str | None = None


def parse_colour(text: str) -> ColourQuery:
    """A basic colour term (`blue`) or a palette name (`navy`, `sky blue`, `sky-blue`)."""
    from classifier.colours import PALETTE, PALETTE_NAMES

    name = " ".join(text.strip().lower().replace("-", " ").replace("_", " ").split())
    name = {"gray": "grey", "dark gray": "dark grey"}.get(name, name)
    if name in COLOUR_FAMILIES:
        return ColourQuery(family=name)
    if name in PALETTE_NAMES:
        return ColourQuery(family=PALETTE_NAMES[name].family, name=name)
    extra = sorted({colour.name for colour in PALETTE} - set(COLOUR_FAMILIES))
    raise CliError(
        f"unknown colour {text!r} (use one of {', '.join(COLOUR_FAMILIES)}; "
        f"or a palette name: {', '.join(extra)})"
    )


def _filters(min_confidence: float | None, colour: ColourQuery | None) -> ConditionBase | None:
    conditions: list[ConditionBase] = []
    if min_confidence is not None:
        conditions.append(Attr("confidence").gte(Decimal(str(min_confidence))))
    if colour is not None:
        conditions.append(Attr("colours[0].family").eq(colour.family))
        if colour.name is not None:
            conditions.append(Attr("colours[0].name").eq(colour.name))
    if not conditions:
        return None
    condition = conditions[0]
    for other in conditions[1:]:
        condition = condition & other
    return condition


def registered_values(deployment: Deployment) -> list[str]:
    """Every by_label value the function has written under (labels, and REJECTED_PARTITION
    once anything was rejected), from the registry item; sorted."""
    table = deployment.resource("dynamodb").Table(deployment.results_table)
    item = table.get_item(Key={TABLE_PARTITION_KEY: LABEL_REGISTRY_PK}, ConsistentRead=True)
    return sorted(str(value) for value in item.get("Item", {}).get(LABEL_REGISTRY_VALUES, ()))


# What `--min-confidence` compares for one item (default: its `confidence`); a label query
# compares the confidence of the label asked for (labels.LabelSelection.confidence).
ConfidenceOf = Callable[[Mapping[str, Any]], float]


def index_values(
    deployment: Deployment,
    label: str | None = None,
    status: Status | None = None,
    values: Sequence[str] | None = None,
) -> list[str]:
    """The by_label values a query asks: `values` (a label and the labels under it), the
    label's, the rejects', or the registry's."""
    if values is not None:
        return [] if status is Status.REJECTED else list(values)
    if label is not None:
        return [] if status is Status.REJECTED else [label]
    if status is Status.REJECTED:
        return [REJECTED_PARTITION]
    values = registered_values(deployment)
    if status is Status.CLASSIFIED:
        return [value for value in values if value != REJECTED_PARTITION]
    return values


def query_results(
    deployment: Deployment,
    *,
    label: str | None = None,
    colour: ColourQuery | None = None,
    status: Status | None = None,
    min_confidence: float | None = None,
    since: str | None = None,
    limit: int | None = None,
    page_size: int | None = None,
    values: Sequence[str] | None = None,
    confidence_of: ConfidenceOf | None = None,
) -> list[dict[str, Any]]:
    """Items newest first (at most `limit`), from by_label, each shard on its own thread.

    A label query asks every shard of the label (or of each of `values`); `--status
    rejected` every shard of the rejects; anything else every shard of every registered
    value. A colour is a filter on the dominant colour (no index of its own: it would cost a
    write unit per image). `confidence_of` moves the confidence filter to this side (a
    label's confidence sits in the `labels` map under a name a FilterExpression path cannot
    always spell; reading costs the same, as DynamoDB bills before filtering). Each Query
    reads at most `page_size` items (default: `limit` when nothing is filtered, as no
    partition can contribute more; otherwise DynamoDB's 1 MB pages) and pages on as the merge
    needs.
    """
    local = confidence_of is not None and min_confidence is not None
    filters = _filters(None if local else min_confidence, colour)
    partitions = _partitions(deployment, label, status, values)
    if not partitions:
        return []
    client = deployment.client("dynamodb")
    keep = _at_least(confidence_of, min_confidence) if local else None
    # `limit` bounds a page only when nothing is filtered out: DynamoDB applies Limit before
    # the FilterExpression, so a filtered query would page `limit` items at a time.
    unfiltered = filters is None and keep is None
    page = page_size if page_size is not None else (limit if unfiltered else None)
    table = deployment.results_table
    with ThreadPoolExecutor(min(len(partitions), MAX_PARALLEL_QUERIES)) as pool:
        streams: list[Iterator[dict[str, Any]]] = [
            _kept(
                _IndexItems(
                    pool,
                    client,
                    query_arguments(
                        table, index.name, index.partition_key, partition, since, filters, page
                    ),
                ),
                keep,
            )
            for index, partition in partitions
        ]
        return _newest_first(streams, limit)


def _partitions(
    deployment: Deployment,
    label: str | None,
    status: Status | None,
    values: Sequence[str] | None,
) -> list[tuple[ShardedIndex, str]]:
    """Every (index, partition) a query asks. Every item is in by_label once; a label query
    also asks by_second_label, where an image's second thing (the mug beside the cat) is."""
    by_label = label is not None or values is not None
    indexes = list(RESULTS_INDEXES.values()) if by_label else [RESULTS_INDEXES[LABEL_INDEX]]
    return [
        (index, partition)
        for value in index_values(deployment, label, status, values)
        for index in indexes
        for partition in shard_values(value, deployment.index_shards)
    ]


def _at_least(
    confidence_of: ConfidenceOf | None, minimum: float | None
) -> Callable[[dict[str, Any]], bool]:
    assert confidence_of is not None and minimum is not None
    return lambda item: confidence_of(item) >= minimum


def _kept(
    stream: Iterator[dict[str, Any]], keep: Callable[[dict[str, Any]], bool] | None
) -> Iterator[dict[str, Any]]:
    return stream if keep is None else (item for item in stream if keep(item))


@dataclass(frozen=True)
class ResultQuery:
    """What `imgclf results` asks for: from a table (`run`), or from items already read
    (`of_items`, e.g. a demo run's results.json), with the same meaning."""

    label: str | None = None
    colour: ColourQuery | None = None
    status: Status | None = None
    min_confidence: float | None = None
    since: str | None = None
    limit: int | None = None
    values: tuple[str, ...] | None = None  # index values instead of `label` (labels.py)
    confidence_of: ConfidenceOf | None = None

    def run(self, deployment: Deployment) -> list[dict[str, Any]]:
        return query_results(
            deployment,
            label=self.label,
            colour=self.colour,
            status=self.status,
            min_confidence=self.min_confidence,
            since=self.since,
            limit=self.limit,
            values=self.values,
            confidence_of=self.confidence_of,
        )

    def of_items(self, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The matching items, newest first, at most `limit`."""
        found = [item for item in items if self._matches(item)]
        found.sort(key=lambda item: str(item.get(INDEX_SORT_KEY, "")), reverse=True)
        return found[: self.limit] if self.limit else found

    def _matches(self, item: dict[str, Any]) -> bool:
        dominant = (item.get("colours") or [{}])[0]
        confidence = self.confidence_of or _confidence
        checks = (
            self.label is None or self.label in registry_values(item),
            self.values is None or not set(registry_values(item)).isdisjoint(self.values),
            self.status is None or item.get("status") == self.status.value,
            self.min_confidence is None or confidence(item) >= self.min_confidence,
            self.since is None or str(item.get(INDEX_SORT_KEY, "")) >= self.since,
            self.colour is None
            or (
                dominant.get("family") == self.colour.family
                and self.colour.name in (None, dominant.get("name"))
            ),
        )
        return all(checks)


def _confidence(item: Mapping[str, Any]) -> float:
    return float(item.get("confidence", -1))


def read_items(path: Path) -> list[dict[str, Any]]:
    """Items from a JSON file of them (what `--format json` and the demo's results.json hold)."""
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CliError(f"cannot read results from {path}: {error}") from None
    if not isinstance(items, list) or not all(
        isinstance(item, dict) and "key" in item for item in items
    ):
        raise CliError(f"{path} is not a list of results (objects with a key)")
    return items


def full_items(deployment: Deployment, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The whole items (an index holds only the listed attributes), in the same order; an
    item deleted since the query is left out."""
    found = get_results(deployment, (str(item["key"]) for item in items))
    return [found[str(item["key"])] for item in items if str(item["key"]) in found]


def query_arguments(
    table_name: str,
    index: str,
    attribute: str,
    value: str,
    since: str | None,
    filters: ConditionBase | None,
    page_size: int | None = None,
) -> dict[str, Any]:
    """Query arguments for the DynamoDB client, newest first, from a fresh expression builder."""
    condition = Key(attribute).eq(value)
    if since is not None:
        condition = condition & Key(INDEX_SORT_KEY).gte(since)
    builder = ConditionExpressionBuilder()
    key = builder.build_expression(condition, is_key_condition=True)
    names = dict(key.attribute_name_placeholders)
    values = dict(key.attribute_value_placeholders)
    arguments: dict[str, Any] = {
        "TableName": table_name,
        "IndexName": index,
        "KeyConditionExpression": key.condition_expression,
        "ScanIndexForward": False,
    }
    if page_size:
        arguments["Limit"] = page_size
    if filters is not None:
        built = builder.build_expression(filters)
        names.update(built.attribute_name_placeholders)
        values.update(built.attribute_value_placeholders)
        arguments["FilterExpression"] = built.condition_expression
    arguments["ExpressionAttributeNames"] = names
    arguments["ExpressionAttributeValues"] = {
        placeholder: _SERIALIZER.serialize(value) for placeholder, value in values.items()
    }
    return arguments


class _IndexItems(Iterator[dict[str, Any]]):
    """One partition's items, newest first, page by page.

    The first page is asked for on `pool` as soon as the stream is made, so every partition's
    first page is fetched in parallel; later pages are fetched only when the merge needs them.
    """

    def __init__(self, pool: ThreadPoolExecutor, client: Any, arguments: dict[str, Any]) -> None:
        self._client = client
        self._arguments = arguments
        self._first: Future[tuple[list[dict[str, Any]], Any]] | None = pool.submit(self._page, None)
        self._items: Iterator[dict[str, Any]] = iter(())
        self._start: Any = None

    def _page(self, start: Any) -> tuple[list[dict[str, Any]], Any]:
        arguments = dict(self._arguments)
        if start is not None:
            arguments["ExclusiveStartKey"] = start
        page = query_page(self._client, arguments)
        items = [
            {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}
            for item in page.get("Items", [])
        ]
        return items, page.get("LastEvaluatedKey")

    def __next__(self) -> dict[str, Any]:
        while True:
            item = next(self._items, None)
            if item is not None:
                return item
            if self._first is not None:
                items, self._start = self._first.result()
                self._first = None
            elif self._start is not None:
                items, self._start = self._page(self._start)
            else:
                raise StopIteration
            self._items = iter(items)


# What DynamoDB (ValidationException) and moto (ResourceNotFoundException) say of an index
# the table does not have.
_MISSING_INDEX_CODES = ("ValidationException", "ResourceNotFoundException")


def query_page(client: Any, arguments: dict[str, Any]) -> dict[str, Any]:
    """One Query page of an index. A table without the index (a stack deployed by an older
    version, before by_second_label) is a one-line CliError that says to deploy, not
    DynamoDB's message."""
    try:
        page: dict[str, Any] = client.query(**arguments)
    except ClientError as error:
        details = error.response.get("Error", {})
        index = str(arguments.get("IndexName", ""))
        code, message = details.get("Code"), str(details.get("Message", ""))
        if index and code in _MISSING_INDEX_CODES and index in message:
            raise CliError(
                f"the results table {arguments['TableName']} has no index {index}: its stack "
                "is older than this CLI; deploy it first (cdk deploy; locally, restart "
                "imgclf local up)"
            ) from None
        raise
    return page


def _newest_first(
    streams: list[Iterator[dict[str, Any]]], limit: int | None
) -> list[dict[str, Any]]:
    """Merge per-partition streams (each newest first), reading no more pages than needed;
    an item found twice is kept once (its label and second label share no label above them,
    but items written by hand or by another version may)."""
    heads: list[dict[str, Any] | None] = [next(stream, None) for stream in streams]
    merged: list[dict[str, Any]] = []
    seen: set[str] = set()
    while limit is None or len(merged) < limit:
        candidates = [(i, item) for i, item in enumerate(heads) if item is not None]
        if not candidates:
            break
        index, item = max(candidates, key=lambda pair: str(pair[1].get(INDEX_SORT_KEY, "")))
        identity = str(item.get(TABLE_PARTITION_KEY, id(item)))
        if identity not in seen:
            seen.add(identity)
            merged.append(item)
        heads[index] = next(streams[index], None)
    return merged


def get_result(deployment: Deployment, key: str) -> dict[str, Any] | None:
    table = deployment.resource("dynamodb").Table(deployment.results_table)
    pk = object_pk(deployment.images_bucket, key)
    item: dict[str, Any] | None = table.get_item(Key={TABLE_PARTITION_KEY: pk}).get("Item")
    return None if is_removed(item) else item


def get_results(
    deployment: Deployment, keys: Iterable[str], removed: dict[str, dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """Items of many keys (BatchGetItem, 100 at a time), by key; the removal markers of keys
    whose object was deleted go into `removed`, when given."""
    dynamodb = deployment.resource("dynamodb")
    bucket, table = deployment.images_bucket, deployment.results_table
    found: dict[str, dict[str, Any]] = {}
    pending = [{TABLE_PARTITION_KEY: object_pk(bucket, key)} for key in dict.fromkeys(keys)]
    while pending:
        request = {table: {"Keys": pending[:100]}}
        pending = pending[100:]
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                if not is_removed(item):  # deleted since the index listed it
                    found[str(item["key"])] = item
                elif removed is not None:
                    removed[str(item["key"])] = item
            request = response.get("UnprocessedKeys") or {}
    return found


def object_tags(deployment: Deployment, key: str) -> dict[str, str]:
    """An image's tags as S3 holds them now ({} if the object is gone or unreadable)."""
    try:
        response = deployment.client("s3").get_object_tagging(
            Bucket=deployment.images_bucket, Key=key
        )
    except ClientError:
        return {}
    return {tag["Key"]: tag["Value"] for tag in response.get("TagSet", [])}
