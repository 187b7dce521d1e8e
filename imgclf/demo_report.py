"""The demo's HTML report: one self-contained file (images inlined as data URIs), rendered from
Jinja2 templates (imgclf/templates/) with autoescaping on. This module builds the view: plain
values the templates print; it writes no markup itself."""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from PIL import Image, UnidentifiedImageError

from classifier.artifact import UnknownRule
from classifier.contracts import Status
from classifier.hierarchy import LabelHierarchy

from .output import plain
from .report_labels import label_categories

THUMBNAIL_PIXELS = 96
REPORT_IMAGES = ("learning_curves.png", "confusion_matrix.png")
TEMPLATE = "report.html.j2"
_TEMPLATES = Environment(
    loader=PackageLoader("imgclf", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    keep_trailing_newline=True,
)


@dataclass
class ReportData:
    """Everything the report shows."""

    title: str
    items: list[dict[str, Any]]
    files: Mapping[str, Path]  # key -> the local file that was uploaded
    truth: Mapping[str, str]  # key -> ground-truth label
    figures: Mapping[str, str]  # headline figures, already formatted
    metadata: dict[str, Any] = field(default_factory=dict)
    model_report_dir: Path | None = None
    dead_letters: list[tuple[str, str]] = field(default_factory=list)  # (keys, body)
    missing: list[str] = field(default_factory=list)
    tags: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # key -> object tags
    # the models compared, by role ("day-0", "trained"): their model.json
    models: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    # evaluation set -> accuracy the live model reached through the pipeline in this run
    live: Mapping[str, str] = field(default_factory=dict)
    # key prefix -> gallery title, shown in this order before the other classified images
    galleries: Mapping[str, str] = field(default_factory=dict)
    # the live model's label hierarchy: the categories of the items' generic labels
    hierarchy: LabelHierarchy | None = None


def render(data: ReportData) -> str:
    """The report as one HTML string."""
    return _TEMPLATES.get_template(TEMPLATE).render(
        title=data.title,
        subtitle=_subtitle(data.metadata),
        figures=list(data.figures.items()),
        models=_models(data),
        decisions=_decisions(data.metadata),
        generic=_generic(data),
        galleries=_galleries(data),
        rejected=_rejected(data.items),
        dead_letters=data.dead_letters,
        missing=sorted(data.missing),
        training=_training(data.model_report_dir),
    )


def write_report(data: ReportData, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data), encoding="utf-8")
    return path


def _thumbnail(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        with Image.open(path) as image:
            image.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))
            rgba = image.convert("RGBA")  # cut-outs on white, as the function composites them
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            buffer = io.BytesIO()
            flat.save(buffer, "JPEG", quality=80)
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _subtitle(metadata: dict[str, Any]) -> str:
    parts = [f"model {metadata.get('version', '?')}", metadata.get("architecture")]
    dataset = metadata.get("dataset") or {}
    if dataset.get("name"):
        parts.append(f"trained on {dataset['name']}")
    if metadata.get("created_at"):
        parts.append(str(metadata["created_at"]))
    return " · ".join(str(part) for part in parts if part)


def evaluation_rows(
    models: Mapping[str, dict[str, Any]],
) -> list[tuple[str, list[dict[str, Any] | None]]]:
    """Per evaluation set any of the models has (first seen first): each model's entry from
    model.json's metrics.evaluations, or None where it was not scored on that set."""
    sets = [
        (metadata.get("metrics") or {}).get("evaluations") or {} for metadata in models.values()
    ]
    names = list(dict.fromkeys(name for evaluations in sets for name in evaluations))
    return [(name, [evaluations.get(name) for evaluations in sets]) for name in names]


def _models(data: ReportData) -> dict[str, Any] | None:
    """Accuracy per evaluation set: each compared model as measured at training or build
    time (int8), and the live model through the pipeline in this run."""
    if not data.models:
        return None
    rows = evaluation_rows(data.models)
    rows += [(name, [None] * len(data.models)) for name in data.live if name not in dict(rows)]
    return {
        "columns": [(role, m.get("version", "")) for role, m in data.models.items()],
        "rows": [
            {"name": name, "cells": cells, "live": data.live.get(name, "–")} for name, cells in rows
        ],
    }


def _decisions(metadata: dict[str, Any]) -> dict[str, Any] | None:
    """How confident the live model may be, and when it says "unknown" (model.json)."""
    calibration = metadata.get("calibration") or {}
    unknown = metadata.get("unknown") or {}
    if not calibration.get("sets") and not unknown:
        return None
    outside = unknown.get("outside") or {}
    sets = calibration.get("sets") or {}
    return {
        "rule": UnknownRule.from_dict(unknown).summary() or "never",
        "chosen_by": unknown.get("chosen_by"),
        "caught": (
            f"; on {outside['count']} calibration photos outside the labels it caught "
            f"{outside['caught']:.0%}"
            if outside.get("count")
            else ""
        ),
        "temperature": float(calibration.get("temperature", 1.0)),
        "fitted_on": calibration.get("fitted_on", "?"),
        "bins": calibration.get("ece_bins", "?"),
        "sets": [
            {
                "name": name,
                "count": entry.get("count", ""),
                "ece_before": float(entry.get("ece_before", 0)),
                "ece_after": float(entry.get("ece_after", 0)),
                "diagrams": [
                    (when, reliability(entry.get(f"reliability_{when}") or []))
                    for when in ("before", "after")
                ],
            }
            for name, entry in sets.items()
        ],
    }


def reliability(bins: list[dict[str, Any]], size: int = 160) -> dict[str, Any]:
    """A reliability diagram's geometry (the template draws it): per confidence bin, a bar as
    high as the accuracy and as wide as the bin, and a dot at the bin's mean confidence on the
    diagonal's scale. Bars below the diagonal: overconfident."""
    pad = 4
    inner = size - 2 * pad
    bars = []
    for entry in bins:
        if not entry.get("count"):
            continue
        low, high = float(entry["low"]), float(entry["high"])
        accuracy, confidence = float(entry["accuracy"]), float(entry["confidence"])
        height, dot = accuracy * inner, confidence * inner
        bars.append(
            {
                "x": f"{pad + low * inner:.1f}",
                "y": f"{pad + inner - height:.1f}",
                "width": f"{(high - low) * inner:.1f}",
                "height": f"{height:.1f}",
                "title": f"{low:.1f}–{high:.1f}: {entry['count']} images, accuracy "
                f"{accuracy:.0%}, confidence {confidence:.0%}",
                "dot_x": f"{pad + dot:.1f}",
                "dot_y": f"{pad + inner - dot:.1f}",
            }
        )
    return {"size": size, "pad": pad, "inner": inner, "bars": bars}


def _galleries(data: ReportData) -> list[dict[str, Any]]:
    """The configured galleries in order, then the other classified images."""
    galleries, shown = [], set()
    for prefix, title in data.galleries.items():
        keys = {str(i["key"]) for i in data.items if str(i["key"]).startswith(prefix)}
        galleries.append(_gallery(data, title, keys))
        shown |= keys
    rest = {str(i["key"]) for i in data.items} - shown
    title = "Classified, by label" if not shown else "Other images, by label"
    galleries.append(_gallery(data, title, rest))
    return [gallery for gallery in galleries if gallery["labels"]]


def _gallery(data: ReportData, title: str, keys: set[str]) -> dict[str, Any]:
    by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in data.items:
        if item.get("status") == Status.CLASSIFIED and str(item["key"]) in keys:
            by_label[str(item.get("label"))].append(item)
    labels = []
    for label in sorted(by_label):
        items = sorted(by_label[label], key=lambda i: -float(i.get("confidence", 0)))
        judged = [i for i in items if str(i["key"]) in data.truth]
        correct = sum(1 for i in judged if data.truth[str(i["key"])] == label)
        labels.append(
            {
                "label": label,
                "count": len(items),
                "score": f"{correct}/{len(judged)} correct" if judged else "",
                "cards": [_card(data, item, label) for item in items],
            }
        )
    return {"title": title, "labels": labels}


def _card(data: ReportData, item: dict[str, Any], label: str) -> dict[str, Any]:
    key = str(item["key"])
    truth = data.truth.get(key)
    user_tags = {k: v for k, v in (data.tags.get(key) or {}).items() if not k.startswith("imgclf:")}
    return {
        "key": key,
        "thumbnail": _thumbnail(data.files.get(key)),
        "confidence": float(plain(item.get("confidence", 0))),
        "truth": truth,
        "wrong": truth is not None and truth != label,
        "user_tags": ", ".join(f"{k}={v}" for k, v in user_tags.items()),
    }


def _generic(data: ReportData) -> list[dict[str, Any]]:
    """The section "What is in these images": the generic labels by category, with example
    thumbnails (each image's thumbnail made once, however many labels show it)."""
    thumbnails: dict[str, str | None] = {}

    def thumbnail(key: str) -> str | None:
        if key not in thumbnails:
            thumbnails[key] = _thumbnail(data.files.get(key))
        return thumbnails[key]

    return [
        {
            "name": category.name,
            "images": category.images,
            "hidden": category.hidden,
            "labels": [
                {
                    "name": group.name,
                    "count": group.count,
                    "parent": group.parent,
                    "examples": [
                        {"key": e.key, "confidence": e.confidence, "thumbnail": thumbnail(e.key)}
                        for e in group.examples
                    ],
                }
                for group in category.labels
            ],
        }
        for category in label_categories(data.items, data.hierarchy)
    ]


def _rejected(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rejected = [i for i in items if i.get("status") == Status.REJECTED]
    return [
        {"key": i["key"], "size": plain(i.get("size", "")), "reason": i.get("reason", "")}
        for i in sorted(rejected, key=lambda i: str(i["key"]))
    ]


def _training(directory: Path | None) -> dict[str, Any] | None:
    if directory is None or not directory.is_dir():
        return None
    text = directory / "classification_report.txt"
    return {
        "plots": [
            (name, _png(directory / name)) for name in REPORT_IMAGES if (directory / name).is_file()
        ],
        "text": text.read_text() if text.is_file() else "",
    }
