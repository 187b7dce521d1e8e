"""The injector: a plan installed on a botocore session, a journal of what the calls did."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from botocore.httpsession import URLLib3Session

from classifier.contracts import TABLE_PARTITION_KEY
from infra.local.faults.plan import (
    CRASH,
    DEFAULT_READ_TIMEOUT_MS,
    DELAY,
    DUPLICATE,
    LATENCY,
    FaultPlan,
    pick_error,
)
from infra.local.faults.responses import error_response


class WorkerCrash(BaseException):  # noqa: N818 - it is a death, not an error to handle
    """The worker process died mid-batch (injected). BaseException: no handler catches it."""


@dataclass(frozen=True)
class ItemWrite:
    """A PutItem that took effect on the results table."""

    pk: str
    etag: str | None
    model_version: str | None
    status: str | None
    event_order: str | None
    invocation: str | None


class CallJournal:
    """What the function's calls did, attempt by attempt, as the service saw them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._writes: list[ItemWrite] = []
        self._attempts: Counter[str] = Counter()

    def attempt(self, operation: str) -> None:
        with self._lock:
            self._attempts[operation] += 1

    def wrote(self, write: ItemWrite) -> None:
        with self._lock:
            self._writes.append(write)

    def item_writes(self) -> list[ItemWrite]:
        with self._lock:
            return list(self._writes)

    def attempts(self) -> dict[str, int]:
        """HTTP attempts by `service.Operation`, including retried and faulted ones."""
        with self._lock:
            return dict(self._attempts)


class FaultInjector:
    """Installs a plan on a botocore session; counts what it injected; can be lifted."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self.plan = plan or FaultPlan()
        self.journal = CallJournal()
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._calls: Counter[str] = Counter()
        self._lifted = threading.Event()
        # A context variable, not a thread-local: the handler runs a batch's records on its
        # own threads, each in a copy of the invoking thread's context.
        self._invocation: ContextVar[str | None] = ContextVar("imgclf_invocation", default=None)
        self._http: URLLib3Session | None = None

    # -- the poller's side -------------------------------------------------------------
    @contextmanager
    def invocation(self, request_id: str) -> Iterator[None]:
        """Calls made inside the block (and in contexts copied from it) belong to this
        invocation."""
        token = self._invocation.set(request_id)
        try:
            yield
        finally:
            self._invocation.reset(token)

    def delivery_delays(self, message_id: str) -> tuple[int | None, int | None]:
        """(delay of a duplicate copy, delay of the message itself): None = no such fault."""
        faults = self.plan.delivery
        if not self.delivers_faults:
            return None, None
        n = self._next("sqs.delivery")
        duplicate = delay = None
        if self._draw("duplicate", "sqs.delivery", n) < faults.duplicate:
            duplicate = int(self._draw("duplicate-s", "sqs.delivery", n) * faults.max_delay_seconds)
            self._count(DUPLICATE)
        if self._draw("delay", "sqs.delivery", n) < faults.delay:
            delay = 1 + int(self._draw("delay-s", "sqs.delivery", n) * faults.max_delay_seconds)
            self._count(DELAY)
        return duplicate, delay

    @property
    def delivers_faults(self) -> bool:
        """Whether the plan has delivery faults (and they are not lifted)."""
        faults = self.plan.delivery
        return not self.lifted and (faults.duplicate > 0 or faults.delay > 0)

    # -- control ------------------------------------------------------------------------
    def lift(self) -> None:
        """Stop injecting (the journal goes on recording)."""
        self._lifted.set()

    @property
    def lifted(self) -> bool:
        return self._lifted.is_set()

    def counts(self) -> dict[str, int]:
        """Faults injected so far, by kind."""
        with self._lock:
            return dict(self._counts)

    def install(self, events: Any) -> None:
        """Register on a botocore session's (or client's) event emitter."""
        # First: an in-process moto (mock_aws) answers in before-send too, and the first
        # answer wins.
        events.register_first("before-send", self._before_send, unique_id="imgclf-faults-send")
        events.register("before-parameter-build", _remember_key, unique_id="imgclf-faults-key")
        events.register("needs-retry", self._after_attempt, unique_id="imgclf-faults-retry")
        events.register("after-call", self._after_call, unique_id="imgclf-faults-after")

    # -- botocore hooks -----------------------------------------------------------------
    def _before_send(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        service, operation = _service_operation(event_name)
        name = f"{service}.{operation}"
        self.journal.attempt(name)
        faults = None if self.lifted else self.plan.faults_for(service, operation, _key(request))
        if faults is None:
            return None
        n = self._next(name)
        if faults.latency is not None:
            time.sleep(faults.latency.draw_ms(self._draw(LATENCY, name, n)) / 1000)
            self._count(LATENCY)
        kind = pick_error(faults, self._draw("error", name, n))
        if kind is None:
            return None
        self._count(kind)
        if kind == "connection_reset":
            raise ConnectionClosedError(endpoint_url=request.url)
        if kind == "read_timeout":
            self._apply_and_lose(request, service, operation)
            time.sleep((faults.read_timeout_ms or DEFAULT_READ_TIMEOUT_MS) / 1000)
            raise ReadTimeoutError(endpoint_url=request.url)
        return error_response(request, service, kind, self._draw("variant", name, n))

    def _after_attempt(
        self, response: Any, operation: Any, request_dict: Mapping[str, Any], **_: Any
    ) -> None:
        """Record a PutItem attempt that took effect (botocore's per-attempt hook)."""
        if response is None or operation.name != "PutItem":
            return
        http = response[0]
        if http is not None and http.status_code < 300:
            self._record_write(request_dict.get("body"))

    def _after_call(
        self, http_response: Any, model: Any, event_name: str, context: Any = None, **_: Any
    ) -> None:
        if self.lifted or http_response is None or http_response.status_code >= 300:
            return
        service, operation = _service_operation(event_name)
        key = (context or {}).get(_KEY)  # a rule's key_prefix applies to crashes too
        faults = self.plan.faults_for(service, operation, key if isinstance(key, str) else None)
        if faults is None or faults.probability("crash_after") <= 0:
            return
        name = f"{service}.{operation}"
        if self._draw(CRASH, name, self._next(f"{name}#crash")) < faults.probability("crash_after"):
            self._count(CRASH)
            raise WorkerCrash(f"injected: the worker died after {name}")

    # -- internals ----------------------------------------------------------------------
    def _apply_and_lose(self, request: Any, service: str, operation: str) -> None:
        """Send the request for real (it takes effect), then drop the answer."""
        with self._lock:
            if self._http is None:
                self._http = URLLib3Session()
            http = self._http
        status = http.send(request).status_code
        if service == "dynamodb" and operation == "PutItem" and status < 300:
            self._record_write(request.body)

    def _record_write(self, body: Any) -> None:
        item = _put_item(body)
        if item is not None:
            self.journal.wrote(replace(item, invocation=self._invocation.get()))

    def _next(self, name: str) -> int:
        with self._lock:
            self._calls[name] += 1
            return self._calls[name]

    def _count(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def _draw(self, stream: str, name: str, n: int) -> float:
        """A uniform number in (0, 1) fixed by (seed, stream, call name, n)."""
        digest = hashlib.blake2b(
            f"{self.plan.seed}|{stream}|{name}|{n}".encode(), digest_size=8
        ).digest()
        return (int.from_bytes(digest, "big") + 0.5) / 2**64


def _service_operation(event_name: str) -> tuple[str, str]:
    parts = event_name.split(".")
    return parts[1].lower(), parts[2] if len(parts) > 2 else ""


_KEY = "imgclf_faults_key"


def _remember_key(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
    """Keep the call's S3 `Key` in its request context, where `before-send` can read it."""
    key = params.get("Key")
    if isinstance(key, str):
        context[_KEY] = key


def _key(request: Any) -> str | None:
    context = getattr(request, "context", None) or {}
    key = context.get(_KEY)
    return key if isinstance(key, str) else None


def _put_item(body: Any) -> ItemWrite | None:
    if body is None:
        return None
    try:
        raw = body if isinstance(body, str | bytes) else bytes(body)
        item = json.loads(raw)["Item"]
    except (ValueError, KeyError, TypeError):
        return None

    def text(name: str) -> str | None:
        value = item.get(name)
        return str(value["S"]) if isinstance(value, dict) and "S" in value else None

    return ItemWrite(
        pk=text(TABLE_PARTITION_KEY) or "",
        etag=text("etag"),
        model_version=text("model_version"),
        status=text("status"),
        event_order=text("event_order"),
        invocation=None,
    )
