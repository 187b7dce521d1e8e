"""What a results-table write costs: DynamoDB's documented item-size rules, applied to an item
and to the entry each of its indexes holds.

DynamoDB bills a write by the size of what it writes, in 1 KB write units, once for the table
and once for every GSI the item is in ("Item sizes and formats" and "Global secondary indexes"
in the DynamoDB Developer Guide). An index entry holds the table's key, the index's keys and
the projected attributes; DynamoDB charges it storage with 100 bytes of overhead. Pure Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from classifier.contracts import TABLE_PARTITION_KEY, ShardedIndex

WRITE_UNIT_BYTES = 1024
INDEX_ENTRY_OVERHEAD_BYTES = 100  # storage only


def value_size(value: Any) -> int:
    """Bytes of one attribute value: UTF-8 strings; numbers at 1 byte per 2 significant
    digits plus 1; lists and maps 3 bytes plus 1 per element plus their elements."""
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float | Decimal):
        digits = format(abs(Decimal(str(value))).normalize(), "f").replace(".", "")
        significant = digits.strip("0") or "0"
        return (len(significant) + 1) // 2 + 1
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, list | tuple):
        return 3 + sum(1 + value_size(element) for element in value)
    if isinstance(value, Mapping):
        return 3 + sum(1 + attribute_size(name, element) for name, element in value.items())
    raise TypeError(f"no DynamoDB size for {type(value).__name__}")


def attribute_size(name: str, value: Any) -> int:
    """Bytes of one attribute: its name's UTF-8 bytes and its value's."""
    return len(name.encode("utf-8")) + value_size(value)


def item_size(item: Mapping[str, Any]) -> int:
    """Bytes of an item, as a write of it is billed."""
    return sum(attribute_size(name, value) for name, value in item.items())


def index_entry(item: Mapping[str, Any], index: ShardedIndex) -> dict[str, Any] | None:
    """What `index` holds for `item` (its keys, the table's key, the projected attributes), or
    None if the item lacks the index's keys (a sparse index)."""
    keys = (TABLE_PARTITION_KEY, index.partition_key, index.sort_key)
    if any(name not in item for name in keys):
        return None
    return {name: item[name] for name in (*keys, *index.projection) if name in item}


def write_units(size_bytes: int) -> int:
    """Write units of one standard write of `size_bytes` (rounded up to the next KB)."""
    return max(1, -(-size_bytes // WRITE_UNIT_BYTES))
