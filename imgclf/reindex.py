"""Re-write the sharded index attribute of items that lack it or carry another shard count.

Items written before the index was sharded, before the one-index table (REJECTED items had
no label_shard then), or before INDEX_SHARDS changed are missing from by_label or sit on a
shard no query asks. This walks the table with a parallel Scan (an operator's maintenance
pass, never a user query), sets each stale item's attribute to `contracts.shard_attributes`,
the function's own definition, removes the retired indexes' attributes, and adds every value
it saw to the label registry. An update applies only if the item still records the same event
and model: a result written meanwhile already carries them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from classifier.adapters import error_code
from classifier.contracts import (
    LABEL_REGISTRY_PK,
    LABEL_REGISTRY_VALUES,
    RESULTS_INDEXES,
    STATUS_ATTRIBUTE,
    TABLE_PARTITION_KEY,
    is_removed,
    registry_values,
    shard_attributes,
)
from classifier.results import ORDER_ATTRIBUTE

from .deployment import Deployment

SCAN_SEGMENTS = 4  # parallel Scan segments, each on its own thread
MAX_SEGMENTS = 64
# The partition attributes of the indexes the table has, and of the ones it no longer has
# (by_status and by_colour, retired for the one-index table): the latter are removed.
SHARD_ATTRIBUTES = (
    *(index.partition_key for index in RESULTS_INDEXES.values()),
    "status_shard",
    "colour_shard",
)
# What deciding an item's shard attributes and guarding its update needs.
_READ = (
    TABLE_PARTITION_KEY,
    STATUS_ATTRIBUTE,
    *(index.value_attribute for index in RESULTS_INDEXES.values()),
    ORDER_ATTRIBUTE,
    "model_version",
    *SHARD_ATTRIBUTES,
)
_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


@dataclass
class ReindexCount:
    """What a pass found: items read, items rewritten, items that changed under it."""

    scanned: int = 0
    rewritten: int = 0
    changed: int = 0
    values: set[str] = field(default_factory=set)  # the index values of the items read

    def add(self, other: ReindexCount) -> None:
        self.scanned += other.scanned
        self.rewritten += other.rewritten
        self.changed += other.changed
        self.values |= other.values


def stale_attributes(item: Mapping[str, Any], shards: int) -> dict[str, str | None] | None:
    """The shard attributes to set (None: remove) for the item to be found, or None if its
    attributes are already right."""
    wanted = shard_attributes(item, shards)
    change: dict[str, str | None] = {
        name: wanted.get(name) for name in SHARD_ATTRIBUTES if item.get(name) != wanted.get(name)
    }
    return change or None


def reindex(
    deployment: Deployment,
    *,
    dry_run: bool = False,
    segments: int = SCAN_SEGMENTS,
    page_size: int | None = None,
    on_progress: Callable[[ReindexCount], None] | None = None,
) -> ReindexCount:
    """Scan every item, rewrite the stale shard attributes and register the index values
    seen (with `dry_run`, only count)."""
    shards = deployment.index_shards
    client = deployment.client("dynamodb")
    table = deployment.results_table

    def segment(number: int) -> ReindexCount:
        total = ReindexCount()
        for page in _scan(client, table, number, segments, page_size):
            page = [
                item
                for item in page
                if item[TABLE_PARTITION_KEY] != LABEL_REGISTRY_PK and not is_removed(item)
            ]
            count = ReindexCount(scanned=len(page))
            count.values = {value for item in page for value in registry_values(item)}
            for item in page:
                change = stale_attributes(item, shards)
                if change is None:
                    continue
                if dry_run or _rewrite(client, table, item, change):
                    count.rewritten += 1
                else:
                    count.changed += 1
            total.add(count)
            if on_progress is not None:
                on_progress(count)
        return total

    result = ReindexCount()
    with ThreadPoolExecutor(segments) as pool:
        for counted in pool.map(segment, range(segments)):
            result.add(counted)
    if result.values and not dry_run:
        client.update_item(
            TableName=table,
            Key={TABLE_PARTITION_KEY: {"S": LABEL_REGISTRY_PK}},
            UpdateExpression="ADD #values :values",
            ExpressionAttributeNames={"#values": LABEL_REGISTRY_VALUES},
            ExpressionAttributeValues={":values": {"SS": sorted(result.values)}},
        )
    return result


def _scan(
    client: Any, table: str, segment: int, segments: int, page_size: int | None
) -> Iterator[list[dict[str, Any]]]:
    names = {f"#a{i}": name for i, name in enumerate(_READ)}
    arguments: dict[str, Any] = {
        "TableName": table,
        "Segment": segment,
        "TotalSegments": segments,
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": names,
    }
    if page_size:
        arguments["Limit"] = page_size
    while True:
        page = client.scan(**arguments)
        yield [
            {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}
            for item in page.get("Items", [])
        ]
        if "LastEvaluatedKey" not in page:
            return
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _rewrite(
    client: Any, table: str, item: Mapping[str, Any], change: Mapping[str, str | None]
) -> bool:
    """Set (or remove) the attributes if the item still records this event and model."""
    names: dict[str, str] = {"#pk": TABLE_PARTITION_KEY}
    values: dict[str, Any] = {}
    same = []
    for placeholder, name in (("order", ORDER_ATTRIBUTE), ("model", "model_version")):
        names[f"#{placeholder}"] = name
        if name in item:
            values[f":{placeholder}"] = item[name]
            same.append(f"#{placeholder} = :{placeholder}")
        else:
            same.append(f"attribute_not_exists(#{placeholder})")
    sets, removes = [], []
    for i, (name, value) in enumerate(sorted(change.items())):
        names[f"#s{i}"] = name
        if value is None:
            removes.append(f"#s{i}")
        else:
            values[f":s{i}"] = value
            sets.append(f"#s{i} = :s{i}")
    clauses = [f"SET {', '.join(sets)}"] if sets else []
    clauses += [f"REMOVE {', '.join(removes)}"] if removes else []
    arguments: dict[str, Any] = {
        "TableName": table,
        "Key": {TABLE_PARTITION_KEY: _SERIALIZER.serialize(item[TABLE_PARTITION_KEY])},
        "UpdateExpression": " ".join(clauses),
        "ConditionExpression": f"attribute_exists(#pk) AND {' AND '.join(same)}",
        "ExpressionAttributeNames": names,
    }
    if values:
        arguments["ExpressionAttributeValues"] = {
            name: _SERIALIZER.serialize(value) for name, value in values.items()
        }
    try:
        client.update_item(**arguments)
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            return False
        raise
    return True
