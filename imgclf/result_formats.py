"""How `imgclf results` prints items: a table, JSON or CSV (the detect-labels shape is
detect_labels.py)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from rich.table import Table
from rich.text import Text

from classifier.contracts import Status

from .output import cell, plain, visible

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
REASON_WIDTH = 24  # a reason folds to no narrower than this while the key is not folded
MIN_KEY_WIDTH, MIN_REASON_WIDTH = 16, 12  # in a terminal too narrow for those
# What a terminal too narrow for every column leaves out first (JSON and CSV keep them all).
DROPPED_FIRST = ("classified_at", "model_version", "colours", "confidence", "second_label")
TIME_TO_SECOND = len("YYYY-MM-DDTHH:MM:SS")  # classified_at as the table shows it


def render_table(
    items: list[dict[str, Any]], title: str | None = None, width: int | None = None
) -> Table:
    """One row per item, without the columns no item fills (a generic model's results have
    no reason; most have no second label), a key that is not folded while it fits, and the
    time to the second: JSON and CSV keep every column and the full time. In `width` (a
    terminal's), the columns that do not fit are left out, DROPPED_FIRST first, rather than
    squeezed to nothing. Cells show their text as it is (`output.cell`)."""
    rows = [{column: visible(_table_cell(item, column)) for column in COLUMNS} for item in items]
    shown = [
        column
        for column in COLUMNS
        if column in ALWAYS_SHOWN or not rows or any(row[column] for row in rows)
    ]
    for column in DROPPED_FIRST:
        if width is None or _needed_width(rows, shown) <= width:
            break
        if column in shown:
            shown.remove(column)
    table = Table(title=None if title is None else cell(title), show_lines=False)
    key_width = min(max((len(row["key"]) for row in rows), default=0), KEY_WIDTH)
    reason_width = None  # the reason takes what the others leave (rich would fold the key)
    if width is not None:
        excess = _needed_width(rows, shown) - width
        narrower = min(max(excess, 0), max(key_width - MIN_KEY_WIDTH, 0))
        key_width -= narrower  # a terminal too narrow even for the four columns folds the key
        reason_width = max(REASON_WIDTH - excess + narrower, MIN_REASON_WIDTH)
    for column in shown:
        table.add_column(
            column,
            overflow="fold",
            justify="right" if column == "confidence" else "left",
            min_width=key_width if column == "key" else None,
            max_width=reason_width if column == "reason" else None,
        )
    for item, row in zip(items, rows, strict=True):
        style = "red" if item.get("status") == Status.REJECTED else None
        table.add_row(*(Text(row[column]) for column in shown), style=style)
    return table


def _needed_width(rows: list[dict[str, str]], shown: list[str]) -> int:
    """The table's width with each column as wide as its widest cell, but a key folded at
    KEY_WIDTH and a reason at REASON_WIDTH: 3 characters of border and padding a column."""
    total = 1
    for column in shown:
        widest = max((len(row[column]) for row in rows), default=0)
        folds_at = {"key": KEY_WIDTH, "reason": REASON_WIDTH}.get(column, widest)
        total += max(len(column), min(widest, folds_at)) + 3
    return total


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
    # csv quotes a cell with "\n" in it but not one with a lone "\r" (a key may hold one),
    # which readers take for a line end: such a row is written all quoted.
    quoted = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(CSV_COLUMNS)
    for item in items:
        cells = [_cell(item, column) for column in CSV_COLUMNS]
        row_writer = quoted if any("\r" in str(cell) for cell in cells) else writer
        row_writer.writerow(cells)
    return buffer.getvalue()
