"""How `imgclf results` prints items: a table, JSON or CSV (the detect-labels shape is
detect_labels.py)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from rich.table import Table

from classifier.contracts import Status

from .output import plain

COLUMNS = (
    "key",
    "status",
    "label",
    "second_label",
    "confidence",
    "colours",
    "model_version",
    "classified_at",
    "reason",
)
# CSV adds the generic labels, every one the item keeps ("animal 0.946, dog 0.936, ..."), last
CSV_COLUMNS = (*COLUMNS, "latency_ms", "width", "height", "size", "etag", "labels")


def mapping_text(value: Mapping[str, Any]) -> str:
    """An item's map (generic labels: name -> confidence; quality: figure -> 0..100) as text."""
    return ", ".join(f"{key} {entry}" for key, entry in value.items())


def _cell(item: dict[str, Any], column: str) -> str:
    value = plain(item.get(column))
    if value is None:
        return ""
    if column == "confidence":
        return f"{float(value):.3f}"
    if column == "colours":
        return ", ".join(str(colour["name"]) for colour in value)
    if isinstance(value, Mapping):
        return mapping_text(value)
    return str(value)


# The table always shows these; the others only when some item has a value for them.
ALWAYS_SHOWN = ("key", "status", "label")
KEY_WIDTH = 48  # a key up to this long is never folded in the table
TIME_TO_SECOND = len("YYYY-MM-DDTHH:MM:SS")  # classified_at as the table shows it


def render_table(items: list[dict[str, Any]], title: str | None = None) -> Table:
    """One row per item, without the columns no item fills (a generic model's results have
    no reason; most have no second label), a key that is not folded while it fits, and the
    time to the second: JSON and CSV keep every column and the full time."""
    rows = [{column: _table_cell(item, column) for column in COLUMNS} for item in items]
    shown = [
        column
        for column in COLUMNS
        if column in ALWAYS_SHOWN or not rows or any(row[column] for row in rows)
    ]
    table = Table(title=title, show_lines=False)
    longest_key = max((len(row["key"]) for row in rows), default=0)
    for column in shown:
        table.add_column(
            column,
            overflow="fold",
            justify="right" if column == "confidence" else "left",
            min_width=min(longest_key, KEY_WIDTH) if column == "key" else None,
        )
    for item, row in zip(items, rows, strict=True):
        style = "red" if item.get("status") == Status.REJECTED else None
        table.add_row(*(row[column] for column in shown), style=style)
    return table


def _table_cell(item: dict[str, Any], column: str) -> str:
    text = _cell(item, column)
    if column == "classified_at" and len(text) > TIME_TO_SECOND:
        return text[:TIME_TO_SECOND].replace("T", " ") + "Z"
    return text


def to_json(items: list[dict[str, Any]]) -> str:
    return json.dumps([plain(item) for item in items], indent=2, sort_keys=True)


def to_csv(items: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        writer.writerow(_cell(item, column) for column in CSV_COLUMNS)
    return buffer.getvalue()
