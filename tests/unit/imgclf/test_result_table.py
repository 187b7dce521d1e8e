"""`imgclf results`' table: the columns items fill, keys that stay whole, the time to the
second; JSON and CSV keep every column and the full time."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from rich.console import Console

from imgclf import output
from imgclf.result_formats import COLUMNS, KEY_WIDTH, render_table, to_csv, to_json

CLASSIFIED_AT = "2026-12-07T13:12:51.640Z"


def _classified(key: str, **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "status": "CLASSIFIED",
        "label": "dog",
        "confidence": 0.91,
        "colours": [{"name": "tan"}, {"name": "black"}],
        "model_version": "generic-75e82f3f7e",
        "classified_at": CLASSIFIED_AT,
        **extra,
    }


def _rejected(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "status": "REJECTED",
        "reason": "empty file (0 bytes)",
        "model_version": "generic-75e82f3f7e",
        "classified_at": CLASSIFIED_AT,
    }


def _printed(items: list[dict[str, Any]], width: int = 160) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(render_table(items))
    return console.export_text()


def _header(text: str) -> list[str]:
    line = next(line for line in text.splitlines() if " key " in line)
    return [cell.strip() for cell in line.strip("┃ ").split("┃")]


def test_columns_no_item_fills_are_left_out() -> None:
    # Given classified items without a second label or a reason
    text = _printed([_classified("a.jpg"), _classified("b.jpg")])
    # Then the table has neither column
    assert _header(text) == [
        "key",
        "status",
        "label",
        "confidence",
        "colours",
        "model_version",
        "classified_at",
    ]


def test_a_column_one_item_fills_is_shown() -> None:
    # Given one item with a second label and one rejected item
    text = _printed([_classified("a.jpg", second_label="cup"), _rejected("empty.jpg")])
    # Then both columns are there, with their values
    assert "second_label" in _header(text) and "reason" in _header(text)
    assert "cup" in text and "empty file (0 bytes)" in text


def test_no_items_still_has_every_header() -> None:
    text = _printed([])
    assert "second_label" in _header(text) and "reason" in _header(text)


def test_the_time_is_shown_to_the_second_and_json_and_csv_keep_it_whole() -> None:
    items = [_classified("a.jpg")]
    assert "2026-12-07 13:12:51Z" in _printed(items)
    assert CLASSIFIED_AT not in _printed(items)
    assert CLASSIFIED_AT in to_json(items) and CLASSIFIED_AT in to_csv(items)


def test_a_long_key_is_not_folded_while_it_fits() -> None:
    # Given a key as long as the table keeps whole, beside long colours and a reason
    key = "holiday-2026/" + "x" * (KEY_WIDTH - len("holiday-2026/.jpg")) + ".jpg"
    assert len(key) == KEY_WIDTH
    items = [
        _classified(
            key, colours=[{"name": "dark grey"}, {"name": "royal blue"}, {"name": "sky blue"}]
        ),
        _rejected("a folder/with a long name/truncated.jpg"),
    ]
    # Then at 120 columns the key stands whole on one line
    assert any(key in line for line in _printed(items, width=120).splitlines())


def _mixed() -> list[dict[str, Any]]:
    rejected = _rejected("uploads/2026/scan.tif")
    rejected["reason"] = "format TIFF is not allowed (allowed: BMP, GIF, JPEG, PNG, WEBP)"
    long_key = "a-folder/with-a-rather-long-name/and-a-photo-000123.jpg"
    return [_classified(long_key, second_label="coffee mug"), rejected]


def test_a_terminal_too_narrow_leaves_columns_out_and_keeps_the_reason_readable() -> None:
    for width in (160, 120, 90):
        console = Console(width=width, record=True, color_system=None)
        console.print(render_table(_mixed(), width=width))
        text = console.export_text()
        lines = text.splitlines()
        # Then every line ends with the table's border: no column is cut off
        assert all(line.rstrip()[-1] in "┓┃┩│┘" for line in lines), text
        # And the reason is there whole, folded over lines
        assert "allowed: BMP" in text
        assert "reason" in _header(text) and "key" in _header(text)
    # And at 120 the time and the model go first
    header = _header(_printed_at(120))
    assert "classified_at" not in header and "model_version" not in header


def _printed_at(width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(render_table(_mixed(), width=width))
    return console.export_text()


def test_piped_a_table_is_as_wide_as_its_rows(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given stdout that is no terminal (`imgclf results > file`)
    monkeypatch.setattr(output, "stdout", Console(width=80, file=sys.stdout))
    assert output.table_width() is None
    # When the table is printed, then every column and the whole reason are on its lines
    output.print_table(render_table(_mixed(), width=output.table_width()))
    text = capsys.readouterr().out
    assert _header(text) == list(COLUMNS)
    assert "format TIFF is not allowed (allowed: BMP, GIF, JPEG, PNG, WEBP)" in text


def test_cells_show_keys_as_they_are() -> None:
    # Given keys that rich would read as markup, and one with a tab and an escape sequence
    keys = ["photos/a[red]b[/red].jpg", "x[bold italic].png", "tab\there\x1b[2J\x07.jpg"]
    text = _printed([_classified(key) for key in keys])
    # Then the brackets stay, and the control characters are shown, never sent
    assert "photos/a[red]b[/red].jpg" in text and "x[bold italic].png" in text
    assert "tab\\there\\x1b[2J\\x07.jpg" in text and "\x1b" not in text
    # And CSV keeps the key byte for byte
    assert "tab\there\x1b[2J\x07.jpg" in to_csv([_classified(keys[2])])
