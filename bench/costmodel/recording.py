"""What a cost pass records while the function runs: its stdout's bytes, its batches, message
sizes, CPU and the time inside moto's answers. Hooks on the local run (the poller's on_batch,
the handler binding, botocore's events); the rest of costmodel is pure."""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from typing import Any

from classifier.contracts import LABEL_REGISTRY_PK
from infra.local.environment import HandlerBinding, classifier_handler
from infra.local.poller import BatchOutcome

from . import usage


class Capture(io.TextIOBase):
    """stdout while the function runs: swallowed (JSON logs, EMF), its bytes counted."""

    def __init__(self) -> None:
        self.active = False
        self.bytes = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.active:
            self.bytes += len(text.encode())
        return len(text)


class Recorder:
    """Batches (on_batch), message sizes (the handler binding) and time inside moto (botocore
    hooks after the injector's latency) while `active`."""

    def __init__(self) -> None:
        self.active = False
        self.batches: list[usage.Batch] = []
        self.body_bytes: list[int] = []
        self.moto_seconds = 0.0
        self._threads: set[int] = set()
        self._batch_moto: Counter[int] = Counter()  # moto's time per calling thread
        self.registry_writes = 0  # the function's UpdateItems of the label registry
        self._cpu_marks: dict[int, float] = {}  # each function thread's CPU at its last call
        self._batch_cpu = 0.0
        self._lock = threading.Lock()
        self._local = threading.local()

    def on_batch(self, outcome: BatchOutcome) -> None:
        """One worker: every function call since the last batch belongs to this one. The
        batch's own moto time is that of its busiest calling thread (the critical path)."""
        with self._lock:
            if self.active:
                local = max(self._batch_moto.values(), default=0.0)
                threads = max(1, len(self._threads))
                self.batches.append(
                    usage.Batch(
                        outcome.size,
                        outcome.succeeded,
                        outcome.seconds,
                        local,
                        threads,
                        cpu_seconds=self._batch_cpu,
                    )
                )
            self._batch_moto.clear()
            self._threads.clear()
            self._cpu_marks.clear()
            self._batch_cpu = 0.0

    def binding(self) -> HandlerBinding:
        """The real function's environments, each handler counting the message bodies."""

        def new_environment() -> Any:
            real = classifier_handler().new_environment()  # imported once the env is set

            def handler(event: dict[str, Any], context: Any) -> Any:
                if self.active:
                    with self._lock:
                        self.body_bytes += [len(r["body"].encode()) for r in event["Records"]]
                return real(event, context)

            return handler

        return HandlerBinding(new_environment=new_environment)

    def install(self, events: Any) -> None:
        events.register("before-send", self._sent, unique_id="imgclf-cost-sent")
        events.register("needs-retry", self._answered, unique_id="imgclf-cost-answered")

    def _cpu(self, event_name: str) -> None:
        """The calling thread's CPU time since its previous AWS call in this batch: the
        function's work between calls (decode, inference, items) and its SDK's. The queue's
        calls (the poller's, the harness's) are not the function's."""
        if ".sqs." in f"{event_name}.":
            return
        now = time.thread_time()
        ident = threading.get_ident()
        with self._lock:
            mark = self._cpu_marks.get(ident)
            if mark is not None and self.active:
                self._batch_cpu += now - mark
            self._cpu_marks[ident] = now

    def _sent(self, event_name: str = "", request: Any = None, **_: Any) -> None:
        self._cpu(event_name)
        if self.active and event_name.endswith("dynamodb.UpdateItem"):
            body = getattr(request, "body", b"") or b""
            text = body.decode() if isinstance(body, bytes) else str(body)
            if f'"{LABEL_REGISTRY_PK}"' in text:
                with self._lock:
                    self.registry_writes += 1
        self._local.sent = time.perf_counter()
        with self._lock:
            self._threads.add(threading.get_ident())

    def _answered(self, event_name: str = "", **_: Any) -> None:
        self._cpu(event_name)
        sent = getattr(self._local, "sent", None)
        if sent is not None and self.active:
            elapsed = time.perf_counter() - sent
            with self._lock:
                self.moto_seconds += elapsed
                self._batch_moto[threading.get_ident()] += elapsed
        self._local.sent = None
