"""Wait until every uploaded object is accounted for: in the results table or in the DLQ."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from classifier.events import MalformedMessageError, objects_in, parse_body

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
    etags: Mapping[str, str] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Accounting:
    """Poll the table (BatchGetItem) and the DLQ until every key is in one of them.

    `accept` decides whether a table item counts yet (e.g. "has the new model version").
    With `etags` (what an upload put), only the result and dead letters of that object count:
    an earlier result of the key, or an old dead letter, is not this upload's.
    """
    if etags is not None:
        accept = _of_these_objects(accept, etags)
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
                state.dead_lettered.update(
                    key for key in _letter_keys(letter.body, etags) if key in state.missing
                )
            state.missing -= state.dead_lettered
            next_dlq_check = now + DLQ_EVERY_SECONDS
        if on_progress is not None:
            on_progress(len(wanted) - len(state.missing))
        if not state.missing or now >= deadline:
            return state
        time.sleep(POLL_SECONDS)


def _of_these_objects(
    accept: Callable[[dict[str, Any]], bool], etags: Mapping[str, str]
) -> Callable[[dict[str, Any]], bool]:
    return lambda item: item.get("etag") == etags.get(str(item.get("key"))) and accept(item)


def _letter_keys(body: str, etags: Mapping[str, str] | None) -> list[str]:
    """The keys a dead letter is about; with `etags`, only those of the uploaded objects."""
    if etags is None:
        return [key for _, key in objects_in(body)]
    try:
        events = parse_body(body)
    except MalformedMessageError:
        return []
    return [event.key for event in events if event.etag and event.etag == etags.get(event.key)]
