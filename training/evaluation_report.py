"""The evaluation report that travels inside model.tar.gz: text report, PNGs, and a page of
the per-label evaluation with the images the model got wrong as small thumbnails."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from training.evaluate import Evaluation, plot_confusion_matrix, plot_learning_curves
from training.gate import GateResult
from training.per_label import MAX_WRONG_LISTED, PerLabelEvaluation, table_lines, wrong_lines

REPORT_DIR = "report"
CLASSIFICATION_REPORT = "classification_report.txt"
CONFUSION_MATRIX = "confusion_matrix.png"
HELDOUT_CONFUSION_MATRIX = "heldout_confusion_matrix.png"
LEARNING_CURVES = "learning_curves.png"
INDEX_PAGE = "index.html"
TEST, HELDOUT = "test", "heldout"  # the splits of `per_label`
SPLIT_TITLES = {TEST: "test split", HELDOUT: "held-out set"}
SHORT_TITLES = {TEST: "test", HELDOUT: "held-out"}
THUMBNAIL_PIXELS = 80  # the longer side of a wrong image's thumbnail on the page


def write_report(
    model_dir: Path,
    *,
    version: str,
    labels: Sequence[str],
    float_eval: Evaluation,
    int8_eval: Evaluation,
    gate: GateResult,
    history: Mapping[str, Sequence[float]],
    heldout_float: Evaluation | None = None,
    heldout_int8: Evaluation | None = None,
    fine_tune_from: int | None = None,
    per_label: Mapping[str, PerLabelEvaluation] | None = None,
    images: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Path]:
    """Write `model_dir/report/*`; returns the files by name. `per_label` (by split: `test`,
    `heldout`) adds the per-label tables, the wrong images and the page; `images` (the
    splits' model input arrays) gives the page its thumbnails."""
    per_label = per_label or {}
    report_dir = model_dir / REPORT_DIR
    report_dir.mkdir(parents=True, exist_ok=True)
    sections = _summary(version, gate, float_eval, int8_eval, heldout_float, heldout_int8)
    for split, evaluation in per_label.items():
        sections += _per_label_section(split, evaluation)
    files = {CLASSIFICATION_REPORT: report_dir / CLASSIFICATION_REPORT}
    files[CLASSIFICATION_REPORT].write_text("\n".join(sections) + "\n")
    for split, name, int8 in (
        (TEST, CONFUSION_MATRIX, int8_eval),
        (HELDOUT, HELDOUT_CONFUSION_MATRIX, heldout_int8),
    ):
        if int8 is not None:
            files[name] = _confusion_png(
                int8,
                per_label.get(split),
                labels,
                report_dir / name,
                f"int8 model {version}: {SHORT_TITLES[split]} accuracy {int8.accuracy:.2%}",
            )
    files[LEARNING_CURVES] = plot_learning_curves(
        history, report_dir / LEARNING_CURVES, fine_tune_from
    )
    if per_label:
        files[INDEX_PAGE] = report_dir / INDEX_PAGE
        files[INDEX_PAGE].write_text(_page(version, per_label, images or {}), encoding="utf-8")
    return files


def _summary(
    version: str,
    gate: GateResult,
    float_eval: Evaluation,
    int8_eval: Evaluation,
    heldout_float: Evaluation | None,
    heldout_int8: Evaluation | None,
) -> list[str]:
    """The gate, the accuracies and the classification reports."""
    verdict = "PASSED" if gate.passed else "FAILED: " + "; ".join(gate.reasons)
    sections = [
        f"model {version}",
        f"quality gate: {verdict}",
        f"float accuracy {float_eval.accuracy:.4f}, int8 accuracy {int8_eval.accuracy:.4f}, "
        f"drop {gate.drop_pp:.2f} pp, on {int8_eval.count} test images",
        "",
        "int8 model (what the function runs), test split:",
        int8_eval.report_text,
        "float model, test split:",
        float_eval.report_text,
    ]
    if heldout_int8 is not None and heldout_float is not None:
        sections += [
            f"held-out set ({heldout_int8.count} images): int8 accuracy "
            f"{heldout_int8.accuracy:.4f}, float accuracy {heldout_float.accuracy:.4f}",
            heldout_int8.report_text,
        ]
    return sections


def _confusion_png(
    evaluation: Evaluation,
    per_label: PerLabelEvaluation | None,
    labels: Sequence[str],
    path: Path,
    title: str,
) -> Path:
    """The confusion matrix, with an "unknown" column when the per-label evaluation has it."""
    if per_label is None:
        return plot_confusion_matrix(evaluation.confusion, labels, path, title)
    columns = [*labels, "unknown"]
    return plot_confusion_matrix(per_label.confusion, labels, path, title, columns)


def _per_label_section(split: str, evaluation: PerLabelEvaluation) -> list[str]:
    entry = evaluation.to_dict()
    title = SPLIT_TITLES.get(split, split)
    return [
        f"per-label evaluation, int8 model, {title} ({evaluation.count} images, "
        f"{evaluation.unknown} called unknown, accuracy {evaluation.accuracy:.4f}):",
        *table_lines(entry),
        "",
        f"images it got wrong, {title} ({len(evaluation.wrong)}, most confident first):",
        *(wrong_lines(entry) or ["none"]),
        "",
    ]


def _page(
    version: str, per_label: Mapping[str, PerLabelEvaluation], images: Mapping[str, np.ndarray]
) -> str:
    """report/index.html: per split, the per-label table and the wrong images (at most
    MAX_WRONG_LISTED, most confident first), as thumbnails when their pixels are given."""
    body = [f"<h1>model {html.escape(version)}</h1>"]
    for split, evaluation in per_label.items():
        title = html.escape(SPLIT_TITLES.get(split, split))
        table = "\n".join(table_lines(evaluation.to_dict()))
        body += [f"<h2>{title}</h2>", f"<pre>{html.escape(table)}</pre>"]
        body.append(f"<h3>images it got wrong ({len(evaluation.wrong)})</h3>")
        pixels = images.get(split)
        for wrong in evaluation.wrong[:MAX_WRONG_LISTED]:
            picture = "" if pixels is None else _thumbnail(pixels[wrong.index])
            caption = (
                f"{wrong.file}: {wrong.true} called {wrong.predicted} ({wrong.confidence:.3f})"
            )
            body.append(
                f"<figure>{picture}<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
    style = "figure{display:inline-block;width:180px;margin:4px;font:11px sans-serif}"
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>model '
        f"{html.escape(version)}</title><style>{style}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _thumbnail(pixels: np.ndarray) -> str:
    """An inline JPEG <img> of one model input image, at most THUMBNAIL_PIXELS a side."""
    from PIL import Image

    picture = Image.fromarray(np.asarray(pixels, np.uint8))
    picture.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, format="JPEG", quality=70)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/jpeg;base64,{data}" alt="">'
