"""Wait until every uploaded object is accounted for: in the results table or in the DLQ."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from classifier.events import MalformedMessageError, objects_in, parse_body
from classifier.results import ORDER_ATTRIBUTE

from .deployment import Deployment
from .dlq import list_dead_letters
from .result_queries import get_results
from .upload import Uploaded

POLL_SECONDS = 0.5
DLQ_EVERY_SECONDS = 3.0


@dataclass
class Accounting:
    """Where each key ended up."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    dead_lettered: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)  # deleted meanwhile: nothing to wait for
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
    uploaded: Mapping[str, Uploaded] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Accounting:
    """Poll the table (BatchGetItem) and the DLQ until every key is in one of them, or was
    deleted meanwhile (its item is a removal's marker).

    `accept` decides whether a table item counts yet (e.g. "has the new model version").
    With `uploaded` (what an upload wrote), only the result and dead letters of those objects
    count: an earlier result of the key, or an old dead letter, is not this upload's.
    """
    if uploaded is not None:
        accept = _of_these_objects(accept, uploaded)
    wanted = list(dict.fromkeys(keys))
    state = Accounting(missing=set(wanted))
    deadline = time.monotonic() + timeout_seconds
    next_dlq_check = time.monotonic() + DLQ_EVERY_SECONDS
    while True:
        markers: dict[str, dict[str, Any]] = {}
        found = get_results(deployment, state.missing, markers)
        for key, item in found.items():
            if accept(item):
                state.items[key] = item
        state.removed.update(key for key, marker in markers.items() if _gone(key, marker, uploaded))
        state.missing -= set(state.items) | state.removed
        now = time.monotonic()
        if state.missing and (now >= next_dlq_check or now >= deadline):
            for letter in list_dead_letters(deployment):
                state.dead_lettered.update(
                    key for key in _letter_keys(letter.body, uploaded) if key in state.missing
                )
            state.missing -= state.dead_lettered
            next_dlq_check = now + DLQ_EVERY_SECONDS
        if on_progress is not None:
            on_progress(len(wanted) - len(state.missing))
        if not state.missing or now >= deadline:
            return state
        time.sleep(POLL_SECONDS)


def _of_these_objects(
    accept: Callable[[dict[str, Any]], bool], uploaded: Mapping[str, Uploaded]
) -> Callable[[dict[str, Any]], bool]:
    def of_them(item: dict[str, Any]) -> bool:
        upload = uploaded.get(str(item.get("key")))
        order = str(item.get(ORDER_ATTRIBUTE, ""))
        return upload is not None and upload.announced(item.get("etag"), order) and accept(item)

    return of_them


def _gone(key: str, marker: dict[str, Any], uploaded: Mapping[str, Uploaded] | None) -> bool:
    """Whether a removal's marker means the object waited for was deleted: any marker, unless
    it is an upload's key, where it must be newer than the upload (not the key's old delete)."""
    return uploaded is None or (
        key in uploaded and uploaded[key].precedes(str(marker.get(ORDER_ATTRIBUTE, "")))
    )


def _letter_keys(body: str, uploaded: Mapping[str, Uploaded] | None) -> list[str]:
    """The keys a dead letter is about; with `uploaded`, only those of the uploaded objects."""
    if uploaded is None:
        return [key for _, key in objects_in(body)]
    try:
        events = parse_body(body)
    except MalformedMessageError:
        return []
    return [
        event.key
        for event in events
        if event.key in uploaded and uploaded[event.key].announced(event.etag, event.order)
    ]
