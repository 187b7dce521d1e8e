"""The evaluation report that travels inside model.tar.gz: text report and PNGs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from training.evaluate import Evaluation, plot_confusion_matrix, plot_learning_curves
from training.gate import GateResult

REPORT_DIR = "report"
CLASSIFICATION_REPORT = "classification_report.txt"
CONFUSION_MATRIX = "confusion_matrix.png"
HELDOUT_CONFUSION_MATRIX = "heldout_confusion_matrix.png"
LEARNING_CURVES = "learning_curves.png"


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
) -> dict[str, Path]:
    """Write `model_dir/report/*`; returns the files by name."""
    report_dir = model_dir / REPORT_DIR
    report_dir.mkdir(parents=True, exist_ok=True)
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
    files = {CLASSIFICATION_REPORT: report_dir / CLASSIFICATION_REPORT}
    files[CLASSIFICATION_REPORT].write_text("\n".join(sections) + "\n")
    files[CONFUSION_MATRIX] = plot_confusion_matrix(
        int8_eval.confusion,
        labels,
        report_dir / CONFUSION_MATRIX,
        f"int8 model {version}: test accuracy {int8_eval.accuracy:.2%}",
    )
    if heldout_int8 is not None:
        files[HELDOUT_CONFUSION_MATRIX] = plot_confusion_matrix(
            heldout_int8.confusion,
            labels,
            report_dir / HELDOUT_CONFUSION_MATRIX,
            f"int8 model {version}: held-out accuracy {heldout_int8.accuracy:.2%}",
        )
    files[LEARNING_CURVES] = plot_learning_curves(
        history, report_dir / LEARNING_CURVES, fine_tune_from
    )
    return files
