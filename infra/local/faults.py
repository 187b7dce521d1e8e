"""Fault and latency injection for the embedded environment, through botocore's own retry path.

A `FaultPlan` (JSON; `imgclf local up --faults FILE`, see docs/faults.md) says, per AWS
operation, how often the function's calls are answered by a fault instead of moto:

throttle          DynamoDB ThrottlingException / ProvisionedThroughputExceededException (400),
                  S3 SlowDown (503), SSM ThrottlingException (400)
internal_error    InternalError / InternalServerError (500)
connection_reset  the connection drops before the service reads the request: nothing happens
read_timeout      the service applies the request, the response never comes (after
                  `read_timeout_ms`): the client cannot tell whether it took effect
latency           added before the request, drawn from a log-normal (median_ms, p99_ms)
crash_after       the worker dies right after the call succeeded, as a Lambda timeout or
                  out-of-memory would kill it: raises `WorkerCrash` (not an Exception)

and, for the queue (`delivery`), how often a message is delivered twice or late.

The injector answers in botocore's `before-send` hook: a fault is an HTTP response (or a
connection error) that botocore parses and retries exactly as it would a real one. Every
decision is drawn from a hash of (seed, stream, operation, n-th call of that operation), so
a plan replays the same faults for the same sequence of calls; with one worker a run is
reproducible call for call. Faults are off unless a plan is given.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from botocore.httpsession import URLLib3Session

from classifier.contracts import TABLE_PARTITION_KEY

# The four ways a call can fail, in the order one uniform draw is cut into.
ERROR_KINDS = ("throttle", "internal_error", "connection_reset", "read_timeout")
CRASH = "crash"
LATENCY = "latency"
DUPLICATE = "duplicate"
DELAY = "delay"
DEFAULT_READ_TIMEOUT_MS = 200.0
CRASH_POINTS = ("s3.GetObject", "s3.PutObjectTagging", "dynamodb.PutItem")
_Z99 = 2.3263478740408408  # the standard normal's 99th percentile


class FaultPlanError(ValueError):
    """A fault plan that cannot be used; the message is one line."""


class WorkerCrash(BaseException):  # noqa: N818 - it is a death, not an error to handle
    """The worker process died mid-batch (injected). BaseException: no handler catches it."""


@dataclass(frozen=True)
class Latency:
    """A log-normal added latency, given by its median and 99th percentile in ms."""

    median_ms: float
    p99_ms: float

    def __post_init__(self) -> None:
        if not 0 < self.median_ms <= self.p99_ms:
            raise FaultPlanError(
                f"latency needs 0 < median_ms <= p99_ms, got {self.median_ms}, {self.p99_ms}"
            )

    def draw_ms(self, uniform: float) -> float:
        """The latency at this quantile (a uniform draw in (0, 1))."""
        sigma = math.log(self.p99_ms / self.median_ms) / _Z99
        return self.median_ms * math.exp(sigma * _normal_quantile(uniform))


@dataclass(frozen=True)
class CallFaults:
    """Faults for the calls one rule matches. Probabilities are per HTTP attempt.

    A field left None inherits from earlier matching rules (and is 0 if none sets it).
    """

    service: str = "*"
    operation: str = "*"
    key_prefix: str | None = None  # S3 only: the object key starts with it
    throttle: float | None = None
    internal_error: float | None = None
    connection_reset: float | None = None
    read_timeout: float | None = None
    read_timeout_ms: float | None = None
    latency: Latency | None = None
    crash_after: float | None = None

    def matches(self, service: str, operation: str, key: str | None) -> bool:
        if not fnmatch.fnmatchcase(service, self.service.lower()):
            return False
        if not fnmatch.fnmatchcase(operation, self.operation):
            return False
        return self.key_prefix is None or (key is not None and key.startswith(self.key_prefix))

    def probability(self, kind: str) -> float:
        return float(getattr(self, kind) or 0.0)

    def over(self, earlier: CallFaults) -> CallFaults:
        """This rule's set fields over an earlier rule's."""
        changes = {
            name: getattr(self, name) for name in _INHERITED if getattr(self, name) is not None
        }
        return replace(earlier, **changes)


_INHERITED = (
    *ERROR_KINDS, "read_timeout_ms", "latency", "crash_after"
)  # fmt: skip


@dataclass(frozen=True)
class DeliveryFaults:
    """Queue delivery faults, applied by the poller to each message it receives."""

    duplicate: float = 0.0  # the message is delivered again, up to max_delay_seconds later
    delay: float = 0.0  # the message is held back up to max_delay_seconds (out of order)
    max_delay_seconds: int = 5


@dataclass(frozen=True)
class FaultPlan:
    """What to inject. Rules apply in order; a later rule's fields override an earlier one's."""

    seed: int = 0
    calls: tuple[CallFaults, ...] = ()
    delivery: DeliveryFaults = field(default_factory=DeliveryFaults)

    @classmethod
    def load(cls, path: Path | str) -> FaultPlan:
        try:
            data = json.loads(Path(path).read_text())
        except OSError as error:
            raise FaultPlanError(f"cannot read fault plan {path}: {error.strerror}") from None
        except json.JSONDecodeError as error:
            raise FaultPlanError(f"fault plan {path} is not JSON: {error}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> FaultPlan:
        if not isinstance(data, Mapping):
            raise FaultPlanError("a fault plan is a JSON object")
        _only(data, {"seed", "calls", "delivery"}, "fault plan")
        calls = data.get("calls", [])
        if not isinstance(calls, list):
            raise FaultPlanError("fault plan 'calls' must be a list of rules")
        return cls(
            seed=_int(data.get("seed", 0), "seed"),
            calls=tuple(_call_faults(rule, index) for index, rule in enumerate(calls)),
            delivery=_delivery(data.get("delivery", {})),
        )

    def to_dict(self) -> dict[str, Any]:
        def rule(faults: CallFaults) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for spec in fields(faults):
                value = getattr(faults, spec.name)
                if isinstance(value, Latency):
                    out[spec.name] = {"median_ms": value.median_ms, "p99_ms": value.p99_ms}
                elif value is not None and value != spec.default:
                    out[spec.name] = value
            return out

        delivery = self.delivery
        return {
            "seed": self.seed,
            "calls": [rule(faults) for faults in self.calls],
            "delivery": {
                "duplicate": delivery.duplicate,
                "delay": delivery.delay,
                "max_delay_seconds": delivery.max_delay_seconds,
            },
        }

    @classmethod
    def chaos(cls, seed: int = 0, *, poison_prefix: str | None = "poison/") -> FaultPlan:
        """Every fault on, at rates a day of bad weather on AWS might bring: the soak's plan.

        Objects under `poison_prefix` fail every GET while the faults last, so their
        messages end in the DLQ (and a redrive after `lift()` recovers them).
        """
        weather: dict[str, Any] = {
            "throttle": 0.08,
            "internal_error": 0.02,
            "connection_reset": 0.01,
            "read_timeout": 0.01,
            "latency": Latency(median_ms=4.0, p99_ms=60.0),
        }
        calls = [
            CallFaults(service="s3", **weather),
            CallFaults(service="dynamodb", **weather),
            CallFaults(service="ssm", throttle=0.05, internal_error=0.02),
            *(
                CallFaults(service=point.split(".")[0], operation=point.split(".")[1],
                           crash_after=0.003)
                for point in CRASH_POINTS
            ),
        ]  # fmt: skip
        if poison_prefix:
            calls.append(
                CallFaults(
                    service="s3",
                    operation="GetObject",
                    key_prefix=poison_prefix,
                    internal_error=1.0,
                    throttle=0.0,
                    connection_reset=0.0,
                    read_timeout=0.0,
                    latency=None,
                )
            )
        return cls(
            seed=seed,
            calls=tuple(calls),
            delivery=DeliveryFaults(duplicate=0.05, delay=0.05, max_delay_seconds=4),
        )

    def faults_for(self, service: str, operation: str, key: str | None) -> CallFaults | None:
        """The merged rule for one call, or None if no rule matches."""
        merged: CallFaults | None = None
        for rule in self.calls:
            if rule.matches(service, operation, key):
                merged = rule if merged is None else rule.over(merged)
        return merged


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
        self._local = threading.local()
        self._http: URLLib3Session | None = None

    # -- the poller's side -------------------------------------------------------------
    @contextmanager
    def invocation(self, request_id: str) -> Iterator[None]:
        """Calls made by this thread inside the block belong to this invocation."""
        self._local.invocation = request_id
        try:
            yield
        finally:
            self._local.invocation = None

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
        kind = _pick(faults, self._draw("error", name, n))
        if kind is None:
            return None
        self._count(kind)
        if kind == "connection_reset":
            raise ConnectionClosedError(endpoint_url=request.url)
        if kind == "read_timeout":
            self._apply_and_lose(request, service, operation)
            time.sleep((faults.read_timeout_ms or DEFAULT_READ_TIMEOUT_MS) / 1000)
            raise ReadTimeoutError(endpoint_url=request.url)
        return _error_response(request, service, kind, self._draw("variant", name, n))

    def _after_attempt(
        self, response: Any, operation: Any, request_dict: Mapping[str, Any], **_: Any
    ) -> None:
        """Record a PutItem attempt that took effect (botocore's per-attempt hook)."""
        if response is None or operation.name != "PutItem":
            return
        http = response[0]
        if http is not None and http.status_code < 300:
            self._record_write(request_dict.get("body"))

    def _after_call(self, http_response: Any, model: Any, event_name: str, **_: Any) -> None:
        if self.lifted or http_response is None or http_response.status_code >= 300:
            return
        service, operation = _service_operation(event_name)
        faults = self.plan.faults_for(service, operation, None)
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
            self.journal.wrote(replace(item, invocation=getattr(self._local, "invocation", None)))

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


# -- the fault responses ---------------------------------------------------------------------

_S3_ERRORS = {
    "throttle": (503, "SlowDown", "Please reduce your request rate."),
    "internal_error": (500, "InternalError", "We encountered an internal error. Please try again."),
}
_DYNAMODB_PREFIX = "com.amazonaws.dynamodb.v20120810#"
_JSON_ERRORS = {
    "internal_error": (500, "InternalServerError", "Internal server error"),
}


def _error_response(request: Any, service: str, kind: str, variant: float) -> AWSResponse:
    request_id = hashlib.sha1(f"{request.url}{variant}".encode()).hexdigest()[:16].upper()
    if service == "s3":
        status, code, message = _S3_ERRORS[kind]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = {"Content-Type": "application/xml", "x-amz-request-id": request_id}
        if request.method == "HEAD":
            body = b""
        return AWSResponse(request.url, status, headers, _Raw(body))
    if kind == "throttle":
        if service == "dynamodb" and variant < 0.5:
            code = "ProvisionedThroughputExceededException"
            message = "The level of configured provisioned throughput for the table was exceeded."
        else:
            code, message = (
                "ThrottlingException",
                "Rate of requests exceeds the allowed throughput.",
            )
        status = 400
    else:
        status, code, message = _JSON_ERRORS[kind]
    if service == "dynamodb":
        code = _DYNAMODB_PREFIX + code
    body = json.dumps({"__type": code, "message": message}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id}
    return AWSResponse(request.url, status, headers, _Raw(body))


class _Raw:
    """The raw body botocore reads from a response it did not receive over HTTP."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any, **__: Any) -> bytes:
        body, self._body = self._body, b""
        return body


# -- helpers ---------------------------------------------------------------------------------


def _pick(faults: CallFaults, uniform: float) -> str | None:
    edge = 0.0
    for kind in ERROR_KINDS:
        edge += faults.probability(kind)
        if uniform < edge:
            return kind
    return None


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


def _normal_quantile(p: float) -> float:
    """The standard normal's quantile (Acklam's rational approximation, |error| < 1.2e-9)."""
    a = (
        -39.69683028665376,
        220.9460984245205,
        -275.9285104469687,
        138.3577518672690,
        -30.66479806614716,
        2.506628277459239,
    )
    b = (
        -54.47609879822406,
        161.5858368580409,
        -155.6989798598866,
        66.80131188771972,
        -13.28068155288572,
    )
    c = (
        -0.007784894002430293,
        -0.3223964580411365,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    )
    d = (0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416)
    low = 0.02425
    if p < low:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    if p > 1 - low:
        return -_normal_quantile(1 - p)
    q = p - 0.5
    r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (
        ((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)  # fmt: skip


def _only(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise FaultPlanError(f"{where}: unknown field(s) {', '.join(unknown)}")


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FaultPlanError(f"{name} must be a whole number, got {value!r}")
    return value


def _probability(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise FaultPlanError(f"{name} must be a probability 0..1, got {value!r}")
    return float(value)


def _call_faults(rule: Any, index: int) -> CallFaults:
    where = f"calls[{index}]"
    if not isinstance(rule, Mapping):
        raise FaultPlanError(f"{where} must be an object")
    names = {spec.name for spec in fields(CallFaults)}
    _only(rule, names, where)
    values: dict[str, Any] = {}
    for name in ("service", "operation"):
        if name in rule:
            if not isinstance(rule[name], str) or not rule[name]:
                raise FaultPlanError(f"{where}.{name} must be a non-empty string")
            values[name] = rule[name]
    if "key_prefix" in rule:
        if not isinstance(rule["key_prefix"], str):
            raise FaultPlanError(f"{where}.key_prefix must be a string")
        values["key_prefix"] = rule["key_prefix"]
    for name in (*ERROR_KINDS, "crash_after"):
        if name in rule:
            values[name] = _probability(rule[name], f"{where}.{name}")
    if sum(values.get(kind) or 0.0 for kind in ERROR_KINDS) > 1:
        raise FaultPlanError(f"{where}: the error probabilities add up to more than 1")
    if "read_timeout_ms" in rule:
        value = rule["read_timeout_ms"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise FaultPlanError(f"{where}.read_timeout_ms must be a number >= 0")
        values["read_timeout_ms"] = float(value)
    if "latency" in rule:
        latency = rule["latency"]
        if not isinstance(latency, Mapping):
            raise FaultPlanError(f"{where}.latency must be {{median_ms, p99_ms}}")
        _only(latency, {"median_ms", "p99_ms"}, f"{where}.latency")
        numbers = [latency.get(name) for name in ("median_ms", "p99_ms")]
        if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
            raise FaultPlanError(f"{where}.latency needs numbers median_ms and p99_ms")
        values["latency"] = Latency(float(numbers[0]), float(numbers[1]))  # type: ignore[arg-type]
    return CallFaults(**values)


def _delivery(data: Any) -> DeliveryFaults:
    if not isinstance(data, Mapping):
        raise FaultPlanError("fault plan 'delivery' must be an object")
    _only(data, {"duplicate", "delay", "max_delay_seconds"}, "delivery")
    seconds = data.get("max_delay_seconds", 5)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= 900:
        raise FaultPlanError("delivery.max_delay_seconds must be a whole number 0..900 (SQS)")
    return DeliveryFaults(
        duplicate=_probability(data.get("duplicate", 0.0), "delivery.duplicate"),
        delay=_probability(data.get("delay", 0.0), "delivery.delay"),
        max_delay_seconds=seconds,
    )
