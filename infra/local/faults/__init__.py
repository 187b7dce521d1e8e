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

from infra.local.faults.injector import CallJournal, FaultInjector, ItemWrite, WorkerCrash
from infra.local.faults.plan import (
    CRASH,
    CRASH_POINTS,
    DELAY,
    DUPLICATE,
    ERROR_KINDS,
    LATENCY,
    CallFaults,
    DeliveryFaults,
    FaultPlan,
    FaultPlanError,
    Latency,
)

__all__ = [
    "CRASH",
    "CRASH_POINTS",
    "DELAY",
    "DUPLICATE",
    "ERROR_KINDS",
    "LATENCY",
    "CallFaults",
    "CallJournal",
    "DeliveryFaults",
    "FaultInjector",
    "FaultPlan",
    "FaultPlanError",
    "ItemWrite",
    "Latency",
    "WorkerCrash",
]
