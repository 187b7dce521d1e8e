"""The embedded local environment: the same resources on moto, plus a queue poller.

State lives only while it runs. `imgclf local up` runs it in the foreground.
"""

from infra.local.environment import LocalEnvironment, LocalEnvironmentError, classifier_handler
from infra.local.poller import EventSourcePoller, LambdaContext
from infra.local.resources import LocalResources, create_resources

__all__ = [
    "EventSourcePoller",
    "LambdaContext",
    "LocalEnvironment",
    "LocalEnvironmentError",
    "LocalResources",
    "classifier_handler",
    "create_resources",
]
