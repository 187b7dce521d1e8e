"""The quality gate: a model is promotable only if its int8 accuracy is high enough and close
enough to the float model's, and the artifact training wrote runs (`artifact_gate`)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from classifier.artifact import ArtifactError
from classifier.artifact_files import read_metadata
from classifier.contracts import ARTIFACT_METADATA_FILE
from classifier.verify import check_artifact

log = logging.getLogger("training")


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict, its thresholds and, when it failed, why."""

    passed: bool
    min_int8_accuracy: float
    max_drop_pp: float
    float_accuracy: float
    int8_accuracy: float
    drop_pp: float
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """model.json's `gate`."""
        return {
            "passed": self.passed,
            "min_int8_accuracy": self.min_int8_accuracy,
            "max_drop_pp": self.max_drop_pp,
            "float_accuracy": round(self.float_accuracy, 6),
            "int8_accuracy": round(self.int8_accuracy, 6),
            "drop_pp": round(self.drop_pp, 4),
            "reasons": list(self.reasons),
        }


def check_gate(
    *,
    float_accuracy: float,
    int8_accuracy: float,
    min_int8_accuracy: float,
    max_drop_pp: float,
    test_count: int,
) -> GateResult:
    """Pass when int8 accuracy >= the minimum and float - int8 <= max_drop_pp points, or
    one image when the set is too small to measure max_drop_pp."""
    drop_pp = (float_accuracy - int8_accuracy) * 100
    reasons = []
    if test_count <= 0:
        reasons.append("the test split is empty, so nothing was measured")
    if int8_accuracy < min_int8_accuracy:
        reasons.append(
            f"int8 accuracy {int8_accuracy:.2%} is below the minimum {min_int8_accuracy:.2%}"
        )
    # A set cannot measure less than one image: on fewer than 100 / max_drop_pp images, a
    # one-image drop is allowed. A hair of tolerance: 0.1 + 0.9 - 1.0 is not 0 in floating
    # point.
    one_image = 100.0 / test_count if test_count > 0 else 0.0
    allowed = max(max_drop_pp, one_image)
    if drop_pp > allowed + 1e-9:
        limit = f"{max_drop_pp:g} pp" if allowed == max_drop_pp else f"one image of {test_count}"
        reasons.append(
            f"int8 accuracy is {drop_pp:.2f} pp below float ({float_accuracy:.2%} -> "
            f"{int8_accuracy:.2%}), more than the allowed {limit}"
        )
    return GateResult(
        passed=not reasons,
        min_int8_accuracy=min_int8_accuracy,
        max_drop_pp=max_drop_pp,
        float_accuracy=float_accuracy,
        int8_accuracy=int8_accuracy,
        drop_pp=drop_pp,
        reasons=tuple(reasons),
    )


def primary_gate(
    evaluations: dict[str, Any],
    primary_name: str,
    *,
    min_int8_accuracy: float,
    max_drop_pp: float,
) -> GateResult:
    """The gate on one evaluation set's entry (model.json `metrics.evaluations[name]`)."""
    primary = evaluations[primary_name]
    return check_gate(
        float_accuracy=primary["float_accuracy"],
        int8_accuracy=primary["accuracy"],
        min_int8_accuracy=min_int8_accuracy,
        max_drop_pp=max_drop_pp,
        test_count=primary["count"],
    )


def primary_metrics(evaluations: dict[str, Any], primary_name: str) -> dict[str, Any]:
    """model.json `metrics`' headline figures, from the primary set, and every set's."""
    primary = evaluations[primary_name]
    return {
        "float_accuracy": primary["float_accuracy"],
        "int8_accuracy": primary["accuracy"],
        "drop_pp": round((primary["float_accuracy"] - primary["accuracy"]) * 100, 4),
        "test_count": primary["count"],
        "primary_set": primary_name,
        "evaluations": evaluations,
    }


def artifact_gate(model_dir: Path, gate: GateResult) -> GateResult:
    """The gate, failed with check_artifact's one-line reason when the artifact written to
    `model_dir` cannot be trusted to run (digests, loading, probe); model.json's `gate` then
    says so too (model.json is not digested: its `files` and `probe` stay as written)."""
    try:
        check_artifact(model_dir)
    except ArtifactError as error:
        failed = replace(gate, passed=False, reasons=(*gate.reasons, str(error)))
        metadata = replace(read_metadata(model_dir), gate=failed.to_dict())
        (model_dir / ARTIFACT_METADATA_FILE).write_text(json.dumps(metadata.to_dict(), indent=2))
        return failed
    return gate


def log_gate(gate: GateResult) -> None:
    """The verdict, one line: passed, or FAILED with every reason."""
    if gate.passed:
        log.info("quality gate passed")
    else:
        log.error("quality gate FAILED: %s", "; ".join(gate.reasons))
