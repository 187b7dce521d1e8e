"""The demo's last screen, from plain items (no AWS), and `imgclf results --file`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from classifier.contracts import Status
from imgclf.demo_summary import MAX_REJECTS_SHOWN, SCREEN_LINES, Judged, figures, screen
from imgclf.main import main as cli_main
from imgclf.result_queries import ColourQuery, ResultQuery

LABELS = ["butterfly", "cat", "chicken", "cow", "dog", "elephant", "horse", "sheep", "spider"]
KINDS = {"renderings": "heldout/", "real photos": "photos/", "outside photos": "outside/"}


def classified(key: str, label: str, minute: int = 0) -> dict[str, Any]:
    return {
        "key": key,
        "status": Status.CLASSIFIED.value,
        "label": label,
        "confidence": 0.9,
        "latency_ms": 12,
        "classified_at": f"2026-11-24T00:{minute:02d}:00.000Z",
        "colours": [{"name": "navy", "family": "blue"}],
        "labels": {label: 0.7, "animal": 0.9} if label != "unknown" else {},
    }


def rejected(key: str, reason: str) -> dict[str, Any]:
    return {"key": key, "status": Status.REJECTED.value, "reason": reason, "latency_ms": 1}


def a_run(rejects: int = 4) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Ten labels (and unknown) on renderings and photos, outside photos, and rejects."""
    items, truth = [], {}
    for label in [*LABELS, "squirrel"]:
        for i in range(20):
            key = f"heldout/{label}/{i}.jpg"
            items.append(classified(key, label if i else "cat"))
            truth[key] = label
        key = f"photos/{label}/p.jpg"
        items.append(classified(key, label))
        truth[key] = label
    for i in range(8):
        key = f"outside/unknown/{i}.jpg"
        items.append(classified(key, "unknown" if i < 6 else "dog"))
        truth[key] = "unknown"
    items += [
        rejected(f"bad/{i}.bin", "not a recognised image " + "x" * 90) for i in range(rejects)
    ]
    return items, truth


def test_the_summary_fits_one_screen_and_shows_each_section() -> None:
    items, truth = a_run()
    judged = Judged.of(items, truth, KINDS)
    shown = figures(
        items, judged, uploaded=len(items), dead_lettered=0, missing=0, elapsed=100.0,
        end_to_end_ms=[100.0, 200.0],
    )  # fmt: skip
    lines = screen(
        live_model="emoji-1 (efficientnet_lite0), quality gate passed",
        live_artifact=".imgclf/cache/emoji-0123456789abcdef/model.tar.gz",
        judged=judged,
        items=items,
        figures=shown,
        tag_lines=["tags on user-tagged/cat/x.jpg: user tags kept, imgclf tags added"],
        report="/tmp/run/report.html",
        results_command="imgclf results --file /tmp/run/results.json --limit 0",
    )
    assert len(lines) <= SCREEN_LINES and all(len(line) <= 100 for line in lines)
    text = "\n".join(lines)
    # The live model, then the path of its artifact on a line of its own
    assert lines[1] == "live artifact: .imgclf/cache/emoji-0123456789abcdef/model.tar.gz"
    # Per-label accuracy on each kind: 19 of 20 renderings right per label, photos all right
    row = next(line for line in lines if line.startswith("cat "))
    assert "20/20 100%" in row  # every first rendering is labelled cat
    dog = next(line for line in lines if line.startswith("dog "))
    assert "19/20  95%" in dog and "1/1 100%" in dog
    assert next(line for line in lines if line.startswith("all ")).count("/") == 3
    # The rejects with their reasons, cut to a line; the figures; the report; the command
    assert "rejected (4):" in text and "bad/0.bin  not a recognised image" in text
    assert "…" in text
    assert shown["accuracy, outside photos"] == "75.0% (6/8)"
    assert "222 uploaded · 218 classified · 4 rejected · 0 in DLQ · 0 unaccounted" in text
    # The generic labels: how many images carry them, the most frequent first
    generic = next(line for line in lines if line.startswith("generic labels "))
    assert generic.startswith("generic labels (212 of 218 classified): animal 212, cat 30, dog 22")
    assert generic.endswith(", …")
    assert lines[-1] == "full table: imgclf results --file /tmp/run/results.json --limit 0"


def test_many_rejects_are_cut_with_the_command_for_the_rest() -> None:
    items, truth = a_run(rejects=30)
    judged = Judged.of(items, truth, KINDS)
    lines = screen(
        live_model="m", live_artifact="a", judged=judged, items=items, figures={}, tag_lines=[],
        report="r", results_command="imgclf results --file f",
    )  # fmt: skip
    assert len(lines) <= SCREEN_LINES
    shown = [line for line in lines if line.startswith("  bad/")]
    assert len(shown) == MAX_REJECTS_SHOWN
    assert f"… {30 - MAX_REJECTS_SHOWN} more: imgclf results --file f --status rejected" in (
        "\n".join(lines)
    )


def test_a_results_file_answers_the_same_filters_as_the_table(tmp_path: Path) -> None:
    items = [classified(f"k{i}.jpg", "cat" if i % 2 else "dog", minute=i) for i in range(6)]
    items.append(rejected("bad.jpg", "empty file (0 bytes)"))
    # Newest first, filtered like a table query
    assert [i["key"] for i in ResultQuery(label="cat").of_items(items)] == [
        "k5.jpg",
        "k3.jpg",
        "k1.jpg",
    ]
    assert [i["key"] for i in ResultQuery(status=Status.REJECTED).of_items(items)] == ["bad.jpg"]
    assert len(ResultQuery(limit=2).of_items(items)) == 2
    assert len(ResultQuery(colour=ColourQuery("blue", "navy")).of_items(items)) == 6
    assert ResultQuery(colour=ColourQuery("red")).of_items(items) == []
    assert len(ResultQuery(since="2026-11-24T00:04:00.000Z").of_items(items)) == 2
    path = tmp_path / "results.json"
    path.write_text(json.dumps(items))
    assert cli_main(["results", "--file", str(path), "--label", "dog", "--format", "csv"]) == 0


def test_a_bad_results_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for content in ("not json", '{"key": "x"}', "[1, 2]"):
        path = tmp_path / "bad.json"
        path.write_text(content)
        assert cli_main(["results", "--file", str(path)]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err and str(path) in err
    assert cli_main(["results", "--file", str(tmp_path / "missing.json")]) == 1
    assert "cannot read results" in capsys.readouterr().err
