"""Wait until every uploaded object is accounted for: in the results table or in the DLQ."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .deployment import Deployment
from .dlq import list_dead_letters
from .result_queries import get_results

POLL_SECONDS = 0.5
DLQ_EVERY_SECONDS = 3.0


@dataclass
class Accounting:
    """Where each key ended up."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    dead_lettered: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)

    @property
    def complete(self) -> bool:
        return not self.missing


def wait_until_accounted(
    deployment: Deployment,
    keys: Iterable[str],
    *,
    timeout_seconds: float,
    accept: Callable[[dict[str, Any]], bool] = lambda item: True,
    on_progress: Callable[[int], None] | None = None,
) -> Accounting:
    """Poll the table (BatchGetItem) and the DLQ until every key is in one of them.

    `accept` decides whether a table item counts yet (e.g. "has the new model version").
    """
    wanted = list(dict.fromkeys(keys))
    state = Accounting(missing=set(wanted))
    deadline = time.monotonic() + timeout_seconds
    next_dlq_check = time.monotonic() + DLQ_EVERY_SECONDS
    while True:
        found = get_results(deployment, state.missing)
        for key, item in found.items():
            if accept(item):
                state.items[key] = item
        state.missing -= set(state.items)
        now = time.monotonic()
        if state.missing and (now >= next_dlq_check or now >= deadline):
            for letter in list_dead_letters(deployment):
                state.dead_lettered.update(key for key in letter.keys if key in state.missing)
            state.missing -= state.dead_lettered
            next_dlq_check = now + DLQ_EVERY_SECONDS
        if on_progress is not None:
            on_progress(len(wanted) - len(state.missing))
        if not state.missing or now >= deadline:
            return state
        time.sleep(POLL_SECONDS)
