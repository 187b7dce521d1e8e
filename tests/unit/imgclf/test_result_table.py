"""`imgclf results`' table: the columns items fill, keys that stay whole, the time to the
second; JSON and CSV keep every column and the full time."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from imgclf.result_formats import KEY_WIDTH, render_table, to_csv, to_json

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
