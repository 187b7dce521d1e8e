"""The embedded local environment: moto server + the stack's resources + the event source poller.

State lives only while it runs: stopping it drops every bucket, queue and table.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from classifier.contracts import LOCAL_ENV, SERVICE_NAME
from infra.environment_config import EnvironmentConfig, load_environment
from infra.local.faults import FaultInjector, FaultPlan
from infra.local.function_log import FunctionLog
from infra.local.moto_resources import LocalResources, create_resources
from infra.local.patches import Patches
from infra.local.poller import BatchOutcome, EventSourcePoller, Handler
from infra.local.server import DUMMY_CREDENTIALS, LOCAL_REGION, MotoServer
from infra.local.state import imgclf_home, remove_state, write_state
from infra.resources import function_environment, stack_name

# Variables that would make boto3 look beyond the moto endpoint.
_SHADOWING_VARIABLES = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


class LocalEnvironmentError(RuntimeError):
    """The local environment could not start."""


@dataclass(frozen=True)
class HandlerBinding:
    """How to make one execution environment of the function (a handler with its own
    runtime): each poller worker makes one, and a new one after a crash or a timeout."""

    new_environment: Callable[[], Handler]


def classifier_handler() -> HandlerBinding:
    """The real function: classifier.handler, imported after the environment is set."""
    try:
        from classifier import handler as module
    except ImportError as error:
        raise LocalEnvironmentError(f"the classifier function is not importable: {error}") from None
    return HandlerBinding(new_environment=module.FunctionEnvironment)


class LocalEnvironment:
    """Start with `start()` (or `with`), stop with `stop()`; one at a time per process.

    The handler runs in this process with boto3 default clients, so starting sets
    AWS_ENDPOINT_URL, dummy credentials, the region and the function's environment variables
    in os.environ, boto3's default session and the function's log level; stopping restores
    them all (and the server's patches of moto go with the server).
    """

    def __init__(
        self,
        config: EnvironmentConfig | None = None,
        *,
        workers: int | None = None,
        visibility_timeout_seconds: int | None = None,
        handler: HandlerBinding | None = None,
        home: Path | None = None,
        write_state_file: bool = True,
        function_settings: dict[str, str] | None = None,
        quiet_function: bool = True,
        on_batch: Callable[[BatchOutcome], None] | None = None,
        port: int | None = None,
        poll: bool = True,
        moto_process: bool = False,
        faults: FaultPlan | None = None,
        function_log: Path | None = None,
    ) -> None:
        self.config = config or load_environment(LOCAL_ENV)
        self.workers = workers or self.config.max_concurrency
        self.visibility_timeout_seconds = (
            visibility_timeout_seconds or self.config.queue_visibility_timeout_seconds
        )
        self._handler = handler
        self.home = home or imgclf_home()
        self.write_state_file = write_state_file
        self.function_settings = dict(function_settings or {})
        self.quiet_function = quiet_function
        self.on_batch = on_batch
        self.poll = poll  # False: the poller is built but waits for `poller.start()`
        self.faults = faults  # None: no fault is injected (the journal still records)
        self.injector: FaultInjector | None = None
        # None: the function logs to this process's stdout; a path: to that file instead
        self.function_log = FunctionLog(function_log) if function_log else None
        self.server = MotoServer(port=port, separate_process=moto_process)
        self.resources: LocalResources | None = None
        self.poller: EventSourcePoller | None = None
        self.started_at: datetime | None = None
        self._saved_environ: dict[str, str | None] = {}
        self._patches = Patches()  # boto3's default session, the function's log level
        self._model_cache_dir: str | None = None
        self._binding: HandlerBinding | None = None
        self._stopped = threading.Event()

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    @property
    def region(self) -> str:
        return LOCAL_REGION

    def client(self, service: str, config: Config | None = None) -> Any:
        """A boto3 client on this environment's endpoint (never faulted)."""
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=LOCAL_REGION,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=config,
        )

    def start(self, *, announce: bool = True) -> LocalEnvironment:
        """Start the emulator, the resources and the poller; `announce=False` leaves the state
        file (how other processes find this environment) to `announce()`, for a caller that
        makes a model live first."""
        self.server.start()
        try:
            clients = {name: self.client(name) for name in ("s3", "sqs", "dynamodb")}
            self.resources = create_resources(
                clients, self.config, visibility_timeout_seconds=self.visibility_timeout_seconds
            )
            self._set_environ(self.resources)
            self.injector = self._install_injector()
            self._binding = self._handler or classifier_handler()
            if self.quiet_function:
                # The function logs JSON per record; locally the CLI prints its own summary.
                self._patches.set_level(SERVICE_NAME, logging.WARNING)
            if self.function_log is not None:
                self.function_log.open()
            self.poller = EventSourcePoller(
                sqs_factory=lambda: self.client("sqs"),
                queue_url=self.resources.queue_url,
                queue_arn=self.resources.queue_arn,
                new_environment=self._binding.new_environment,
                workers=self.workers,
                batch_size=self.config.batch_size,
                batch_window_seconds=self.config.batch_window_seconds,
                function_name=f"{stack_name(self.config.name)}-classifier",
                function_timeout_seconds=self.config.function_timeout_seconds,
                memory_mb=self.config.function_memory_mb,
                region=LOCAL_REGION,
                on_batch=self.on_batch,
                faults=self.injector,
            )
            if self.poll:
                self.poller.start()
            self.started_at = datetime.now(UTC)
            if announce:
                self.announce()
        except BaseException:
            self.stop()
            raise
        return self

    def announce(self) -> None:
        """Write the state file: from here other processes (`imgclf --env local ...`) use it."""
        if self.write_state_file:
            write_state(self.state(), self.home)

    def state(self) -> dict[str, Any]:
        """What the state file holds: enough for the CLI to talk to this environment."""
        assert self.resources is not None
        return {
            "env": self.config.name,
            "endpoint_url": self.endpoint_url,
            "region": LOCAL_REGION,
            "pid": os.getpid(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "workers": self.workers,
            "outputs": self.resources.stack_outputs(),
        }

    def stop(self) -> None:
        """Stop polling, drop every resource, restore the process environment."""
        if self.poller is not None:
            self.poller.stop()
        if self.function_log is not None:
            self.function_log.close()
        if self.write_state_file:
            remove_state(self.home, pid=os.getpid())
        self.server.stop()
        self._patches.undo()  # the function's session, with the injector's hooks, goes
        self._restore_environ()
        if self._model_cache_dir is not None:
            shutil.rmtree(self._model_cache_dir, ignore_errors=True)
            self._model_cache_dir = None
        self._stopped.set()

    def wait(self) -> None:
        """Block until stop() is called or the process is interrupted."""
        while not self._stopped.wait(0.5):
            pass

    def __enter__(self) -> LocalEnvironment:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _install_injector(self) -> FaultInjector:
        """A fresh default boto3 session for the function (it builds its clients from it),
        with the fault injector's hooks: faults if a plan was given, the call journal always."""
        session = boto3.session.Session()
        self._patches.replace(boto3, "DEFAULT_SESSION", session)
        injector = FaultInjector(self.faults)
        injector.install(session.events)
        return injector

    def _set_environ(self, resources: LocalResources) -> None:
        self._model_cache_dir = tempfile.mkdtemp(prefix="imgclf-local-models-")
        values: dict[str, str | None] = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_REGION": LOCAL_REGION,
            **DUMMY_CREDENTIALS,
            **function_environment(
                self.config,
                results_table=resources.results_table,
                model_pointer_parameter=resources.model_pointer_parameter,
            ),
            "MODEL_CACHE_DIR": self._model_cache_dir,
            **self.function_settings,
        }
        if self.quiet_function:  # unless the caller's function_settings say otherwise
            quiet = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
            values.update({k: v for k, v in quiet.items() if k not in self.function_settings})
        for name in _SHADOWING_VARIABLES:
            values[name] = None
        for name, value in values.items():
            self._saved_environ.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _restore_environ(self) -> None:
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ = {}


def wait_for(predicate: Callable[[], bool], timeout_seconds: float, interval: float = 0.2) -> bool:
    """Poll a condition until it holds or the time is up."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
