"""How the state machines retry a task's AWS call (throttling, service errors)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn

TASK_RETRY: dict[str, Any] = {
    "errors": [sfn.Errors.TASKS_FAILED],
    "interval": Duration.seconds(1),
    "max_attempts": 4,
    "backoff_rate": 2.0,
    "jitter_strategy": sfn.JitterType.FULL,
}
