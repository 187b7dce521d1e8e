"""The demo's HTML report: one self-contained file (images inlined as data URIs)."""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from classifier.artifact import UnknownRule
from classifier.contracts import Status

from .output import plain

THUMBNAIL_PIXELS = 96
REPORT_IMAGES = ("learning_curves.png", "confusion_matrix.png")


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


def _e(value: Any) -> str:
    return html.escape(str(value))


STYLE = """
body{
  font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;
  margin:24px;
  color:#1d2430;
  background:#f6f7f9;
}
h1{margin:0 0 4px}
h2{margin:28px 0 10px;border-bottom:1px solid #d9dde3;padding-bottom:4px}
.sub{color:#5b6472;margin-bottom:16px}
.figures{display:flex;flex-wrap:wrap;gap:10px}
.figure{
  background:#fff;
  border:1px solid #d9dde3;
  border-radius:8px;
  padding:10px 14px;
  min-width:130px;
}
.figure b{display:block;font-size:22px}
.figure span{color:#5b6472;font-size:12px}
.label{margin:14px 0 4px;font-weight:600}
.label small{color:#5b6472;font-weight:400}
.gallery{display:flex;flex-wrap:wrap;gap:8px}
.card{
  width:104px;
  background:#fff;
  border:2px solid #cfe8d4;
  border-radius:6px;
  padding:3px;
  font-size:11px;
  text-align:center;
}
.card.wrong{border-color:#e8a0a0;background:#fff3f3}
.card img{width:96px;height:96px;object-fit:cover;border-radius:4px;display:block;margin:0 auto}
.conf{font-weight:600}
.truth{color:#a33}
table{border-collapse:collapse;background:#fff}
td,th{border:1px solid #d9dde3;padding:4px 8px;font-size:13px;text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:16px}
.plots img{max-width:560px;background:#fff;border:1px solid #d9dde3}
pre{background:#fff;border:1px solid #d9dde3;padding:8px;font-size:12px;overflow:auto}
.reliability{display:flex;flex-wrap:wrap;gap:16px;margin-top:10px}
.reliability figure{margin:0;background:#fff;border:1px solid #d9dde3;padding:6px}
.reliability figcaption{font-size:12px;color:#5b6472;text-align:center}
"""


def _subtitle(metadata: dict[str, Any]) -> str:
    parts = [f"model {metadata.get('version', '?')}", metadata.get("architecture")]
    dataset = metadata.get("dataset") or {}
    if dataset.get("name"):
        parts.append(f"trained on {dataset['name']}")
    if metadata.get("created_at"):
        parts.append(str(metadata["created_at"]))
    return " · ".join(str(part) for part in parts if part)


def render(data: ReportData) -> str:
    """The report as one HTML string."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{_e(data.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(data.title)}</h1>",
        f"<div class='sub'>{_e(_subtitle(data.metadata))}</div>",
        "<div class='figures'>",
    ]
    for name, value in data.figures.items():
        parts.append(f"<div class='figure'><b>{_e(value)}</b><span>{_e(name)}</span></div>")
    parts.append("</div>")
    parts += _models(data)
    parts += _decisions(data.metadata)
    shown: set[str] = set()
    for prefix, title in data.galleries.items():
        keys = {str(i["key"]) for i in data.items if str(i["key"]).startswith(prefix)}
        parts += _gallery(data, title, keys)
        shown |= keys
    rest = {str(i["key"]) for i in data.items} - shown
    parts += _gallery(data, "Classified, by label" if not shown else "Other images, by label", rest)
    parts += _rejected(data)
    parts += _training(data)
    parts.append("</body></html>")
    return "".join(parts)


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


def _models(data: ReportData) -> list[str]:
    """Accuracy per evaluation set: each compared model as measured at training or build
    time (int8), and the live model through the pipeline in this run."""
    if not data.models:
        return []
    rows = evaluation_rows(data.models)
    rows += [(name, [None] * len(data.models)) for name in data.live if name not in dict(rows)]
    header = "".join(
        f"<th>{_e(role)}<br><small>{_e(metadata.get('version', ''))}</small></th>"
        for role, metadata in data.models.items()
    )
    parts = [
        "<h2>Models, by evaluation set</h2>",
        f"<table><tr><th>evaluation set</th>{header}<th>live, this run</th></tr>",
    ]
    for name, entries in rows:
        cells = "".join(
            f"<td>{entry['accuracy']:.1%} <small>of {entry['count']}</small></td>"
            if entry
            else "<td>–</td>"
            for entry in entries
        )
        parts.append(f"<tr><td>{_e(name)}</td>{cells}<td>{_e(data.live.get(name, '–'))}</td></tr>")
    parts.append("</table>")
    return parts


def _decisions(metadata: dict[str, Any]) -> list[str]:
    """How confident the live model may be, and when it says "unknown" (model.json)."""
    calibration = metadata.get("calibration") or {}
    unknown = metadata.get("unknown") or {}
    if not calibration.get("sets") and not unknown:
        return []
    parts = ["<h2>Confidence and “unknown”</h2>"]
    rule = UnknownRule.from_dict(unknown).summary()
    outside = unknown.get("outside") or {}
    caught = (
        f"; on {outside['count']} calibration photos outside the labels it caught "
        f"{outside['caught']:.0%}"
        if outside.get("count")
        else ""
    )
    parts.append(
        f"<p>Unknown when: {_e(rule or 'never')}"
        f"{' (' + _e(unknown['chosen_by']) + ')' if unknown.get('chosen_by') else ''}"
        f"{_e(caught)}.</p>"
    )
    sets = calibration.get("sets") or {}
    if sets:
        parts.append(
            f"<p>Temperature scaling T = {calibration.get('temperature', 1.0):.3f}, fitted on "
            f"{_e(calibration.get('fitted_on', '?'))}. Expected calibration error "
            f"({calibration.get('ece_bins', '?')} bins), before → after:</p>"
            "<table><tr><th>set</th><th>images</th><th>ECE before</th><th>ECE after</th></tr>"
        )
        for name, entry in sets.items():
            parts.append(
                f"<tr><td>{_e(name)}</td><td>{_e(entry.get('count', ''))}</td>"
                f"<td>{float(entry.get('ece_before', 0)):.3f}</td>"
                f"<td>{float(entry.get('ece_after', 0)):.3f}</td></tr>"
            )
        parts.append("</table><div class='reliability'>")
        for name, entry in sets.items():
            for when in ("before", "after"):
                bins = entry.get(f"reliability_{when}") or []
                parts.append(
                    f"<figure>{reliability_svg(bins)}<figcaption>{_e(name)}, {when}"
                    "</figcaption></figure>"
                )
        parts.append("</div>")
    return parts


def reliability_svg(bins: list[dict[str, Any]], size: int = 160) -> str:
    """A reliability diagram: per confidence bin, the accuracy as a bar (its width is the
    bin), the diagonal where accuracy equals confidence, and a dot at the bin's mean
    confidence. Bars below the diagonal: overconfident."""
    pad = 4
    inner = size - 2 * pad
    shapes = [
        f"<rect x='{pad}' y='{pad}' width='{inner}' height='{inner}' fill='#fff' "
        "stroke='#d9dde3'/>",
        f"<line x1='{pad}' y1='{pad + inner}' x2='{pad + inner}' y2='{pad}' "
        "stroke='#9aa3af' stroke-dasharray='3 3'/>",
    ]
    for entry in bins:
        if not entry.get("count"):
            continue
        low, high = float(entry["low"]), float(entry["high"])
        accuracy, confidence = float(entry["accuracy"]), float(entry["confidence"])
        x, width = pad + low * inner, (high - low) * inner
        height = accuracy * inner
        shapes.append(
            f"<rect x='{x:.1f}' y='{pad + inner - height:.1f}' width='{width:.1f}' "
            f"height='{height:.1f}' fill='#7aa6d8' stroke='#fff'>"
            f"<title>{low:.1f}–{high:.1f}: {entry['count']} images, accuracy {accuracy:.0%}, "
            f"confidence {confidence:.0%}</title></rect>"
        )
        dot = confidence * inner
        shapes.append(
            f"<circle cx='{pad + dot:.1f}' cy='{pad + inner - dot:.1f}' r='2' fill='#a33'/>"
        )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{size}' height='{size}' "
        f"viewBox='0 0 {size} {size}' role='img'>{''.join(shapes)}</svg>"
    )


def _gallery(data: ReportData, title: str, keys: set[str]) -> list[str]:
    by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in data.items:
        if item.get("status") == Status.CLASSIFIED and str(item["key"]) in keys:
            by_label[str(item.get("label"))].append(item)
    if not by_label:
        return []
    parts = [f"<h2>{_e(title)}</h2>"]
    for label in sorted(by_label):
        items = sorted(by_label[label], key=lambda i: -float(i.get("confidence", 0)))
        judged = [i for i in items if str(i["key"]) in data.truth]
        correct = sum(1 for i in judged if data.truth[str(i["key"])] == label)
        score = f"{correct}/{len(judged)} correct" if judged else ""
        parts.append(
            f"<div class='label'>{_e(label)} <small>{len(items)} images {score}</small></div>"
        )
        parts.append("<div class='gallery'>")
        for item in items:
            key = str(item["key"])
            truth = data.truth.get(key)
            wrong = truth is not None and truth != label
            thumb = _thumbnail(data.files.get(key))
            image = f"<img src='{thumb}' alt='{_e(key)}'>" if thumb else "<div>(no preview)</div>"
            user_tags = {
                k: v for k, v in (data.tags.get(key) or {}).items() if not k.startswith("imgclf:")
            }
            note = f"<div class='truth'>is {_e(truth)}</div>" if wrong else ""
            if user_tags:
                note += (
                    f"<div>tags: {_e(', '.join(f'{k}={v}' for k, v in user_tags.items()))}</div>"
                )
            parts.append(
                f"<div class='card{' wrong' if wrong else ''}' title='{_e(key)}'>{image}"
                f"<div class='conf'>{float(plain(item.get('confidence', 0))):.0%}</div>{note}</div>"
            )
        parts.append("</div>")
    return parts


def _rejected(data: ReportData) -> list[str]:
    rejected = [i for i in data.items if i.get("status") == Status.REJECTED]
    parts = [f"<h2>Rejected ({len(rejected)})</h2>"]
    if rejected:
        parts.append("<table><tr><th>key</th><th>size</th><th>reason</th></tr>")
        for item in sorted(rejected, key=lambda i: str(i["key"])):
            parts.append(
                f"<tr><td>{_e(item['key'])}</td><td>{_e(plain(item.get('size', '')))}</td>"
                f"<td>{_e(item.get('reason', ''))}</td></tr>"
            )
        parts.append("</table>")
    if data.dead_letters:
        parts.append(f"<h2>In the dead-letter queue ({len(data.dead_letters)})</h2><table>")
        for keys, body in data.dead_letters:
            parts.append(f"<tr><td>{_e(keys or '-')}</td><td>{_e(body[:200])}</td></tr>")
        parts.append("</table>")
    if data.missing:
        parts.append(f"<h2>Not accounted for ({len(data.missing)})</h2><pre>")
        parts.append(_e("\n".join(sorted(data.missing))) + "</pre>")
    return parts


def _training(data: ReportData) -> list[str]:
    parts = ["<h2>Training</h2>"]
    directory = data.model_report_dir
    if directory is None or not directory.is_dir():
        return [*parts, "<p>No training report in the artifact.</p>"]
    parts.append("<div class='plots'>")
    for name in REPORT_IMAGES:
        if (directory / name).is_file():
            parts.append(f"<img src='{_png(directory / name)}' alt='{_e(name)}'>")
    parts.append("</div>")
    text = directory / "classification_report.txt"
    if text.is_file():
        parts.append(f"<pre>{_e(text.read_text())}</pre>")
    return parts


def write_report(data: ReportData, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data), encoding="utf-8")
    return path
