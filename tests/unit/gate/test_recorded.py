"""model.json's gate, read one way by every reader (gate/recorded.py)."""

from __future__ import annotations

from typing import Any

import pytest

from gate.recorded import RecordedGate, recorded_gate
from imgclf.model_show import show_lines
from imgclf.models import ModelVersion


@pytest.mark.parametrize(
    ("gate", "expected"),
    [
        ({"passed": True, "reasons": []}, RecordedGate(True, ())),
        ({"passed": False, "reasons": ["a", "b"]}, RecordedGate(False, ("a", "b"))),
        ({"passed": "true"}, RecordedGate(False, ())),  # a string is no pass
        ({"passed": 1}, RecordedGate(False, ())),
        ({"passed": False, "reasons": "one reason"}, RecordedGate(False, ("one reason",))),
    ],
)
def test_a_gate_passes_only_when_passed_is_true(gate: Any, expected: RecordedGate) -> None:
    assert recorded_gate({"gate": gate}) == expected


@pytest.mark.parametrize("gate", [None, {}, "passed", ["passed"], 1, {"reasons": ["x"]}])
def test_a_gate_of_another_shape_is_no_verdict(gate: Any) -> None:
    assert recorded_gate({"gate": gate}) is None
    assert recorded_gate({}) is None


def test_the_summary_gives_the_reasons_of_a_failure() -> None:
    assert RecordedGate(True, ()).summary() == "passed"
    assert RecordedGate(False, ()).summary() == "failed"
    assert RecordedGate(False, ("low", "slow")).summary() == "failed (low; slow)"


@pytest.mark.parametrize("gate", ["passed", ["passed"], {"passed": "false"}])
def test_model_list_and_show_read_a_tampered_gate_without_crashing(gate: Any) -> None:
    # `model list` raised TypeError on a string gate ("passed"["passed"])
    metadata = {"version": "v1", "labels": ["a"], "gate": gate}
    version = ModelVersion("v1", 1, "2026-12-07", metadata)
    assert version.gate in {"-", "failed"}
    assert "gate: passed" not in show_lines(metadata)


@pytest.mark.parametrize("metrics", [["x"], "high", None])
def test_model_list_reads_any_metrics_without_crashing(metrics: Any) -> None:
    # One artifact whose metrics were a list hid the whole `model list` behind an error
    version = ModelVersion("v1", 1, "2026-12-07", {"version": "v1", "metrics": metrics})
    assert version.int8_accuracy is None
