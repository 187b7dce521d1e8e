"""The soak's parameters: sizes, timeouts, the model versions, the fault plan, the harness's
clients, and how long a drain may take."""

from __future__ import annotations

import dataclasses

from botocore.config import Config

from classifier.contracts import LOCAL_ENV
from infra.environment_config import EnvironmentConfig, load_environment
from infra.local.faults import CRASH, DELAY, DUPLICATE, ERROR_KINDS, LATENCY, FaultPlan

DEFAULT_IMAGES = 10_000
DEFAULT_BASELINE_IMAGES = 1_000
DEFAULT_WORKERS = 2
DEFAULT_STABLE_SECONDS = 3.0
DEFAULT_MAX_FINDINGS = 20
POISON_PREFIX = "poison/"
POISON_KEYS = 5
FIRST_MODEL, SECOND_MODEL = "tiny-v1", "tiny-v2"
# Written straight to the pointer a third of the way in, as a broken deploy script would:
# random bytes as model.tflite under a model.json whose digests match them.
BROKEN_MODEL = "broken-1"
# The function runs with a deployed environment's timeout (cdk.json `dev`, 30 s), not the
# local environment's 5 s: under injected latency and botocore's backoff a 10-record batch can
# need more than 5 s on two shared cores, and the soak is about AWS's behaviour. The queue's
# visibility timeout is twice that by default: deployed queues use six times (AWS's advice),
# which would hold a crashed batch back for 3 minutes; much less than twice lets a batch that
# overruns on these two busy cores reappear while it is still being deleted.
DEPLOYED_ENV = "dev"
VISIBILITY_TIMEOUTS = 2
MODEL_REFRESH_SECONDS = "0.5"
BROKEN_SECONDS = 4 * float(MODEL_REFRESH_SECONDS)  # how long the broken pointer stands, at least
UPLOAD_THREADS = 4
# Uploads wait while more than this many messages are visible in the queue. Only moto needs it:
# its ReceiveMessage walks the whole queue on every call, so an unbounded backlog makes every
# receive slower and the run never catches up. SQS itself does not care how deep a queue is.
MAX_BACKLOG = 300
# Our own clients (uploads, audit) retry patiently: a fault aimed at them is not a finding.
HARNESS_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 10}, max_pool_connections=32
)


@dataclasses.dataclass(frozen=True)
class PassOptions:
    """How a pass runs, beside its size and whether the faults are on."""

    seed: int = 0
    versioned: bool = True
    workers: int = DEFAULT_WORKERS
    retry_mode: str | None = None
    function_settings: dict[str, str] | None = None
    upload_threads: int = UPLOAD_THREADS
    poison: int = POISON_KEYS
    function_timeout_seconds: int | None = None
    visibility_timeout_seconds: int | None = None
    drain_timeout_seconds: float | None = None
    stable_seconds: float = DEFAULT_STABLE_SECONDS
    max_backlog: int = MAX_BACKLOG


def fault_plan(seed: int, faults: bool) -> FaultPlan | None:
    """`FaultPlan.chaos(seed)` with the poison keys' prefix, or None without faults."""
    return FaultPlan.chaos(seed, poison_prefix=POISON_PREFIX) if faults else None


def planned_kinds(plan: FaultPlan) -> list[str]:
    """The fault kinds a plan can inject (the injector's names for them)."""
    kinds = [kind for kind in ERROR_KINDS if any(r.probability(kind) > 0 for r in plan.calls)]
    if any(r.probability("crash_after") > 0 for r in plan.calls):
        kinds.append(CRASH)
    if any(r.latency is not None for r in plan.calls):
        kinds.append(LATENCY)
    if plan.delivery.duplicate > 0:
        kinds.append(DUPLICATE)
    if plan.delivery.delay > 0:
        kinds.append(DELAY)
    return kinds


def function_settings(options: PassOptions) -> dict[str, str]:
    """The function's environment: a quick model refresh, metrics on, then the options'."""
    settings = {
        "MODEL_REFRESH_SECONDS": MODEL_REFRESH_SECONDS,
        "POWERTOOLS_METRICS_DISABLED": "false",
        **(options.function_settings or {}),
    }
    if options.retry_mode:
        settings["RETRY_MODE"] = options.retry_mode
    return settings


def soak_config(function_timeout_seconds: int | None = None) -> EnvironmentConfig:
    """The local environment with a deployed environment's function timeout (or this one)."""
    timeout = function_timeout_seconds or load_environment(DEPLOYED_ENV).function_timeout_seconds
    return dataclasses.replace(load_environment(LOCAL_ENV), function_timeout_seconds=timeout)


def default_drain_timeout(
    uploads: int, *, faults: bool, max_receive_count: int, visibility_timeout_seconds: float
) -> float:
    """An upper bound on one drain: the backlog, then a poison message's receives twice over.

    A poison message reaches the DLQ after maxReceiveCount receives, one per visibility
    timeout. A duplicate delivered late in that cycle is a new message whose count starts
    again, so the last poison copy can need two cycles after the last upload."""
    receives = (max_receive_count + 1) * visibility_timeout_seconds
    return max(180.0, uploads * (0.5 if faults else 0.2)) + (2 * receives if faults else receives)
