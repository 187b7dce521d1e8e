"""The embedded local environment: the same resources on moto, plus a queue poller.

State lives only while it runs. `imgclf local up` runs it in the foreground. The CLI imports
these public names, not the submodules.
"""

from infra.local.environment import (
    HandlerBinding,
    LocalEnvironment,
    LocalEnvironmentError,
    classifier_handler,
)
from infra.local.faults import FaultPlan, FaultPlanError
from infra.local.moto_resources import LocalResources, create_resources
from infra.local.poller import BatchOutcome, EventSourcePoller, LambdaContext
from infra.local.server import DUMMY_CREDENTIALS, LocalServerError, is_answering
from infra.local.state import (
    HOME_VARIABLE,
    claim_home,
    imgclf_home,
    last_promoted,
    note_promoted,
    process_alive,
    read_state,
    state_path,
)

__all__ = [
    "DUMMY_CREDENTIALS",
    "HOME_VARIABLE",
    "BatchOutcome",
    "EventSourcePoller",
    "FaultPlan",
    "FaultPlanError",
    "HandlerBinding",
    "LambdaContext",
    "LocalEnvironment",
    "LocalEnvironmentError",
    "LocalResources",
    "LocalServerError",
    "claim_home",
    "classifier_handler",
    "create_resources",
    "imgclf_home",
    "is_answering",
    "last_promoted",
    "note_promoted",
    "process_alive",
    "read_state",
    "state_path",
]
