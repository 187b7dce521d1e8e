"""model.json's `gate`, as training records it: `{"passed": true | false, "reasons": [...]}`.

One reading for every reader (the gate Lambda, promotion, `model list`, `model show`,
`status`, the demo): a gate passes only when `passed` is the JSON value true (a string
"false" is no pass), and a value of another shape is no verdict, never a crash. Pure and
standard library only: the gate Lambda imports it as a plain module beside gate.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RecordedGate:
    passed: bool
    reasons: tuple[str, ...]

    def summary(self) -> str:
        """`passed`, or `failed` followed by its reasons when it gives any."""
        if self.passed:
            return "passed"
        return f"failed ({'; '.join(self.reasons)})" if self.reasons else "failed"


def recorded_gate(metadata: Mapping[str, Any]) -> RecordedGate | None:
    """The verdict model.json records, or None when it records none."""
    gate = metadata.get("gate")
    if not isinstance(gate, Mapping) or "passed" not in gate:
        return None
    reasons = gate.get("reasons")
    if isinstance(reasons, list | tuple):
        listed = tuple(str(reason) for reason in reasons)
    else:
        listed = (str(reasons),) if reasons else ()
    return RecordedGate(passed=gate["passed"] is True, reasons=listed)
