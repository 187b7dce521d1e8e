"""Runs the records of one batch concurrently, with a bound, in batch order for each key.

Pure (standard library only): the handler passes the records, the keys each one touches and
the work; this module decides what runs when. The rules:
- at most `concurrency` records run at once; 1 runs them one after another in the caller's
  thread, as a plain loop would;
- records that share a key run in batch order, never at the same time: a record starts
  only when every earlier record touching one of its keys has finished (failed or not);
  records with no key in common run in parallel;
- records start in batch order as far as the rules allow, and `before_start` is called in
  the caller's thread just before each one starts (the handler's time check: raising there
  fails that record without running it);
- an `Exception` fails its record alone (returned, by index); anything else (a
  `BaseException`: KeyboardInterrupt, SystemExit, an injected worker crash) starts nothing
  more, waits for the records already running, and is raised to the caller;
- each record runs in a copy of the caller's `contextvars` context, so what the caller set
  for the invocation (a request id, say) is what the record's thread sees.
"""

from __future__ import annotations

import contextvars
import heapq
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import TypeVar

T = TypeVar("T")


def run_in_key_order(
    items: Sequence[T],
    *,
    keys: Callable[[T], Iterable[Hashable]],
    work: Callable[[T], None],
    concurrency: int,
    executor: Executor | None = None,
    before_start: Callable[[T], None] | None = None,
) -> dict[int, Exception]:
    """Run `work` on every item by the rules above; the failed items' errors, by index.

    `executor` runs the work when `concurrency` > 1 (it should have at least `concurrency`
    workers; the bound is kept here either way).
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    failures: dict[int, Exception] = {}
    if concurrency == 1 or executor is None or len(items) <= 1:
        for index, item in enumerate(items):
            try:
                if before_start is not None:
                    before_start(item)
                work(item)
            except Exception as error:
                failures[index] = error
        return failures

    waiting_on, unblocks = _dependencies([frozenset(keys(item)) for item in items])
    ready = [index for index, count in enumerate(waiting_on) if count == 0]
    heapq.heapify(ready)
    running: dict[Future[None], int] = {}
    crash: BaseException | None = None

    def finished(index: int) -> None:
        for later in unblocks[index]:
            waiting_on[later] -= 1
            if waiting_on[later] == 0:
                heapq.heappush(ready, later)

    while ready or running:
        while crash is None and ready and len(running) < concurrency:
            index = heapq.heappop(ready)
            try:
                if before_start is not None:
                    before_start(items[index])
            except Exception as error:
                failures[index] = error
                finished(index)
                continue
            context = contextvars.copy_context()
            running[executor.submit(context.run, work, items[index])] = index
        if not running:
            break
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            index = running.pop(future)
            raised = future.exception()  # the executor keeps a BaseException as it is
            if isinstance(raised, Exception):
                failures[index] = raised
            elif raised is not None:
                crash = crash or raised
            finished(index)
        if crash is not None:
            ready.clear()  # start nothing more; the running ones are waited for above
    if crash is not None:
        raise crash
    return failures


def _dependencies(
    key_sets: Sequence[frozenset[Hashable]],
) -> tuple[list[int], list[list[int]]]:
    """For each item: how many earlier items it waits for, and which later items wait for it.

    An item waits for the last earlier item of each of its keys (that one waits for the one
    before it), so the items of one key form a chain in batch order.
    """
    last_of_key: dict[Hashable, int] = {}
    waiting_on = [0] * len(key_sets)
    unblocks: list[list[int]] = [[] for _ in key_sets]
    for index, key_set in enumerate(key_sets):
        before = {last_of_key[key] for key in key_set if key in last_of_key}
        for earlier in before:
            unblocks[earlier].append(index)
        waiting_on[index] = len(before)
        for key in key_set:
            last_of_key[key] = index
    return waiting_on, unblocks
