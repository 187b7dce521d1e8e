"""scheduling.run_in_key_order: a bound, batch order per key, failures alone, deaths raised."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from classifier.scheduling import run_in_key_order


@dataclass(frozen=True)
class Item:
    name: str
    keys: frozenset[str] = field(default_factory=frozenset)


def items(*spec: str) -> list[Item]:
    """'a' -> an item for key a; 'a+b' -> one for keys a and b; '' -> no key."""
    return [Item(f"{i}:{s}", frozenset(k for k in s.split("+") if k)) for i, s in enumerate(spec)]


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=8) as executor:
        yield executor


class Tracker:
    """Records what ran, and fails the test if two items of one key overlap."""

    def __init__(self, seconds: float = 0.02) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.order: list[str] = []
        self.active: set[str] = set()
        self.running = 0
        self.peak = 0
        self.overlaps: list[str] = []
        self.threads: set[int] = set()

    def __call__(self, item: Item) -> None:
        with self.lock:
            if self.active & item.keys:
                self.overlaps.append(item.name)
            self.active |= item.keys
            self.order.append(item.name)
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.threads.add(threading.get_ident())
        time.sleep(self.seconds)
        with self.lock:
            self.active -= item.keys
            self.running -= 1


def run(
    batch: list[Item],
    work: Callable[[Item], object],
    concurrency: int,
    pool: ThreadPoolExecutor,
    before_start: Callable[[Item], None] | None = None,
) -> dict[int, Exception]:
    return run_in_key_order(
        batch,
        keys=lambda item: item.keys,
        work=lambda item: None if work(item) is None else None,
        concurrency=concurrency,
        executor=pool,
        before_start=before_start,
    )


def test_one_at_a_time_is_a_plain_loop_in_the_callers_thread(pool: ThreadPoolExecutor) -> None:
    tracker = Tracker(seconds=0)
    batch = items("a", "b", "a", "c")
    assert run(batch, tracker, 1, pool) == {}
    assert tracker.order == [item.name for item in batch]
    assert tracker.threads == {threading.get_ident()} and tracker.peak == 1


def test_different_keys_run_at_once_up_to_the_bound(pool: ThreadPoolExecutor) -> None:
    # Given four items that can only finish if all four run at the same time
    barrier = threading.Barrier(4, timeout=5)
    batch = items("a", "b", "c", "d")
    # When they run four at once, they all pass the barrier
    assert run(batch, lambda _: barrier.wait(), 4, pool) == {}
    # And with a bound of three, never more than three run, and three do
    tracker = Tracker()
    assert run(items(*"abcdefghij"), tracker, 3, pool) == {}
    assert tracker.peak == 3 and len(tracker.order) == 10


def test_items_of_one_key_run_in_batch_order_never_at_once(pool: ThreadPoolExecutor) -> None:
    # Given a batch where a and b repeat, and one item touches both a and c
    batch = items("a", "b", "a", "c", "a+c", "b", "d", "a")
    tracker = Tracker()
    # When it runs eight at once
    assert run(batch, tracker, 8, pool) == {}
    # Then no two items of one key overlapped, and each key saw its items in batch order
    assert tracker.overlaps == []
    by_name = {item.name: item for item in batch}
    for key in "abcd":
        ran = [name for name in tracker.order if key in by_name[name].keys]
        assert ran == [item.name for item in batch if key in item.keys]
    # And keys other than a ran alongside it (more than one at a time)
    assert tracker.peak > 1


def test_a_failure_fails_its_item_alone_and_the_next_of_its_key_still_runs(
    pool: ThreadPoolExecutor,
) -> None:
    batch = items("a", "b", "a", "c")
    done: list[str] = []

    def work(item: Item) -> None:
        if item.name == "0:a":
            raise ValueError("transient")
        done.append(item.name)

    failures = run(batch, work, 4, pool)
    assert list(failures) == [0] and isinstance(failures[0], ValueError)
    assert sorted(done) == ["1:b", "2:a", "3:c"]


def test_before_start_runs_in_the_callers_thread_in_batch_order_and_can_refuse(
    pool: ThreadPoolExecutor,
) -> None:
    # Given a check that refuses every item from the third on (the handler's time check)
    batch = items("a", "b", "c", "d", "e")
    checked: list[tuple[str, int]] = []

    def before_start(item: Item) -> None:
        checked.append((item.name, threading.get_ident()))
        if len(checked) > 2:
            raise TimeoutError("too little time left")

    tracker = Tracker()
    failures = run(batch, tracker, 2, pool, before_start)
    # Then it was asked in batch order from the caller's thread; refused items never ran
    assert [name for name, _ in checked] == [item.name for item in batch]
    assert {thread for _, thread in checked} == {threading.get_ident()}
    assert sorted(failures) == [2, 3, 4] and sorted(tracker.order) == ["0:a", "1:b"]
    assert all(isinstance(error, TimeoutError) for error in failures.values())


class Death(BaseException):
    """Like the fault injector's WorkerCrash: not an Exception."""


@pytest.mark.parametrize("death", [Death("crash"), KeyboardInterrupt(), SystemExit(3)])
def test_a_base_exception_in_a_worker_is_raised_after_the_running_items_end(
    pool: ThreadPoolExecutor, death: BaseException
) -> None:
    # Given a batch where the second item dies while the first is still running
    batch = items("a", "b", "c", "d", "e", "f")
    started: list[str] = []
    finished: list[str] = []
    first_running = threading.Event()

    def work(item: Item) -> None:
        started.append(item.name)
        if item.name == "1:b":
            first_running.wait(5)
            raise death
        if item.name == "0:a":
            first_running.set()
            time.sleep(0.2)
        finished.append(item.name)

    # When they run two at once, the death reaches the caller
    with pytest.raises(type(death)):
        run(batch, work, 2, pool)
    # And the running item was let finish, while nothing after the death started
    assert finished == ["0:a"] and sorted(started) == ["0:a", "1:b"]


def test_one_at_a_time_lets_a_base_exception_through_too(pool: ThreadPoolExecutor) -> None:
    def work(item: Item) -> None:
        raise Death(item.name)

    with pytest.raises(Death):
        run(items("a", "b"), work, 1, pool)


def test_workers_see_the_callers_context_variables(pool: ThreadPoolExecutor) -> None:
    request: contextvars.ContextVar[str | None] = contextvars.ContextVar("request", default=None)
    seen: list[str | None] = []
    token = request.set("invocation-1")
    try:
        run(items("a", "b", "c"), lambda _: seen.append(request.get()), 3, pool)
    finally:
        request.reset(token)
    assert seen == ["invocation-1"] * 3


def test_a_bound_below_one_is_refused(pool: ThreadPoolExecutor) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        run(items("a"), lambda _: None, 0, pool)
