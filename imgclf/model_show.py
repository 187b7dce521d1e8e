"""`imgclf model show VERSION`: one version's model.json, as a person reads it.

The version, architecture and labels, the gate's verdict, the headline metrics, the unknown
rule and, per split, the per-label table (precision, recall, F1, support, suggested
threshold) with the count of images it got wrong; a model with no test split (day-0,
generic) shows each evaluation set's per-label scores instead. `--format json` is model.json
itself. Any model.json is shown as far as it goes: older ones lack the per-label evaluation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from classifier.artifact import RULE_DISABLED, RULE_FIXED, ArtifactError
from classifier.artifact_files import metadata_in_tarball
from classifier.hierarchy import DEFAULT_MAX_LABELS, DEFAULT_MIN_CONFIDENCE
from gate.champion import evaluations
from gate.recorded import recorded_gate
from training.per_label import table_lines

from .deployment import Deployment
from .errors import CliError
from .models import fetch_artifact

PER_LABEL_KEY = "per_label"  # in model.json's `metrics`
SPLIT_TITLES = {"test": "test split", "heldout": "held-out set"}
UNKNOWN_THRESHOLDS = ("max_other", "min_confidence", "keep_confidence")


def read_model_json(deployment: Deployment, version: str) -> dict[str, Any]:
    """A version's model.json from the models bucket; CliError (one line) when the version
    does not exist or its artifact cannot be read."""
    data = fetch_artifact(deployment, version)
    try:
        return metadata_in_tarball(data)
    except ArtifactError as error:
        raise CliError(f"model version {version!r}: {error}") from None


def render(metadata: Mapping[str, Any], output_format: str = "table") -> str:
    """The text `model show` prints: model.json itself for `json`, else `show_lines`."""
    if output_format == "json":
        return json.dumps(metadata, indent=2)
    return "\n".join(show_lines(metadata))


def show_lines(metadata: Mapping[str, Any]) -> list[str]:
    """The readable summary of a model.json, line by line."""
    metrics = _mapping(metadata.get("metrics"))
    labels = [str(label) for label in metadata.get("labels") or []]
    lines = [
        f"model {metadata.get('version', '?')} ({metadata.get('architecture') or '?'}), "
        f"created {metadata.get('created_at') or '?'}",
        f"labels ({len(labels)}): {', '.join(labels) or '-'}",
        f"gate: {_gate(metadata)}",
        *_headline(metrics),
        f"unknown rule: {_unknown_rule(metadata.get('unknown'), generic=not labels)}",
        *_hierarchy_lines(metadata.get("hierarchy")),
    ]
    per_label = _mapping(metrics.get(PER_LABEL_KEY))
    if not per_label:
        # Day-0 and generic models have no test split: their evaluation sets' per-class scores
        shared = _set_lines(_mapping(metrics.get("evaluations")))
        return [*lines, *(shared or ["", "no per-label evaluation in model.json"])]
    for split, entry in per_label.items():
        if isinstance(entry, Mapping):
            lines += ["", *_split_lines(str(split), entry)]
    return lines


def _set_lines(sets: Mapping[str, Any]) -> list[str]:
    """Each evaluation set's per-label precision, recall, F1 and support (model.json's
    `per_class`, as evaluation sets record it), for a model with no per-label evaluation."""
    lines: list[str] = []
    for name, entry in sets.items():
        scores = _mapping(_mapping(entry).get("per_class"))
        if scores:
            table = {
                label: {**_mapping(cells), "f1": _mapping(cells).get("f1-score") or 0.0}
                for label, cells in scores.items()
            }
            lines += [
                "",
                f"per-label scores, evaluation set {name}: {entry.get('count', '?')} images, "
                f"{_percent(entry.get('accuracy'))} right",
                *table_lines({"labels": table}),
            ]
    return lines


def _split_lines(split: str, entry: Mapping[str, Any]) -> list[str]:
    title = SPLIT_TITLES.get(split, split)
    listed = len(entry.get("wrong") or [])
    wrong = int(entry.get("wrong_count", listed))
    where = f"; model.json lists {listed} (--format json)" if wrong else ""
    return [
        f"per-label evaluation, {title}: {entry.get('count', '?')} images, "
        f"{_percent(entry.get('accuracy'))} right, {entry.get('unknown_count', 0)} called unknown",
        *table_lines(entry),
        f"images it got wrong: {wrong}{where}",
    ]


def _headline(metrics: Mapping[str, Any]) -> list[str]:
    """Accuracy on the test split (int8, float, drop), held-out and shared sets, size."""
    if not metrics:
        return ["metrics: none recorded"]
    # A day-0 or generic model has no test split: its gate reads one evaluation set.
    primary = metrics.get("primary_set")
    where = f"{primary} (the gate's set)" if primary else "test split"
    lines = [
        f"{where}: int8 accuracy {_percent(metrics.get('int8_accuracy'))} (float "
        f"{_percent(metrics.get('float_accuracy'))}, drop {_number(metrics.get('drop_pp'))} pp) "
        f"on {metrics.get('test_count', '?')} images"
    ]
    if "heldout_accuracy" in metrics:
        lines.append(
            f"held-out set: int8 accuracy {_percent(metrics.get('heldout_accuracy'))} on "
            f"{metrics.get('heldout_count', '?')} images"
        )
    shared = evaluations({"metrics": metrics})
    if shared:
        lines.append(
            "evaluation sets: "
            + ", ".join(f"{name} {e.accuracy:.1%}" for name, e in sorted(shared.items()))
        )
    size, latency = metrics.get("int8_size_bytes"), metrics.get("int8_latency_ms_p50")
    if isinstance(size, int):
        timing = f", {latency} ms per image" if isinstance(latency, int | float) else ""
        lines.append(f"int8 model: {size / 1024:.0f} KiB{timing}")
    return lines


def _gate(metadata: Mapping[str, Any]) -> str:
    gate = recorded_gate(metadata)
    return gate.summary() if gate is not None else "not recorded"


def _unknown_rule(rule: Any, generic: bool = False) -> str:
    thresholds = {
        name: rule.get(name)
        for name in UNKNOWN_THRESHOLDS
        if isinstance(rule, Mapping) and rule.get(name) is not None
    }
    if not thresholds:
        if generic:
            return "unknown when no generic label reaches the environment's minimum"
        return "none (the top label is always given)" + _why_not_chosen(rule)
    shown = ", ".join(f"{name} {_number(value)}" for name, value in thresholds.items())
    return shown + _why_not_chosen(rule)


def _why_not_chosen(rule: Any) -> str:
    """Why a rule was not chosen on the model's photos (switched off, or the fixed one), as
    training recorded it ("": it was chosen, or training did not say)."""
    reason = rule.get("chosen_by") if isinstance(rule, Mapping) else None
    if isinstance(reason, str) and reason.startswith((RULE_DISABLED, RULE_FIXED)):
        return f": {reason}"
    return ""


def _hierarchy_lines(hierarchy: Any) -> list[str]:
    """The generic labels a model with ImageNet's outputs gives, and where its hierarchy is from."""
    if not isinstance(hierarchy, Mapping):
        return []
    return [
        f"generic labels: hierarchy {hierarchy.get('version', '?')} over "
        f"{hierarchy.get('classes', '?')} ImageNet classes; each image keeps the labels at or "
        f"above GENERIC_MIN_CONFIDENCE (default {DEFAULT_MIN_CONFIDENCE:g}), up to MAX_LABELS "
        f"(default {DEFAULT_MAX_LABELS})",
        f"  source: {hierarchy.get('source', '?')}",
    ]


def _percent(value: Any) -> str:
    return f"{value:.2%}" if isinstance(value, int | float) else "?"


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else "?"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
