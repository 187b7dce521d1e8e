"""Fault plans: what to inject, per AWS operation and per queue delivery (docs/faults.md)."""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

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


def pick_error(faults: CallFaults, uniform: float) -> str | None:
    edge = 0.0
    for kind in ERROR_KINDS:
        edge += faults.probability(kind)
        if uniform < edge:
            return kind
    return None


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
        if values.get("service") != "s3":
            # only S3 calls carry an object key: on any other service the rule never matched
            raise FaultPlanError(
                f'{where}.key_prefix applies to S3 calls only: add "service": "s3"'
            )
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
