"""Find an environment's resources: the running local one, or a deployed stack's outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from classifier.contracts import LOCAL_ENV, MAX_INDEX_SHARDS, artifact_key
from infra.environment_config import ConfigError, load_environment
from infra.local import (
    DUMMY_CREDENTIALS,
    HOME_VARIABLE,
    imgclf_home,
    is_answering,
    process_alive,
    read_state,
    state_path,
)
from infra.resources import StackOutputs, stack_name

from .errors import CliError

_CLIENT_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32)


@dataclass(frozen=True)
class Deployment:
    """One environment's resources, named as the stack's CloudFormation outputs name them."""

    env: str
    outputs: dict[str, str]
    endpoint_url: str | None = None
    region: str | None = None
    # The .imgclf home of the `imgclf local up` this is; None for a stack, the demo's own
    # environment and tests. Promotions there are remembered for the next `local up`.
    home: Path | None = None
    _clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None

    def output(self, key: str) -> str:
        value = self.outputs.get(key)
        if not value:
            raise CliError(f"environment {self.env!r} has no {key} (stack {stack_name(self.env)})")
        return value

    @property
    def images_bucket(self) -> str:
        return self.output(StackOutputs.IMAGES_BUCKET)

    @property
    def models_bucket(self) -> str:
        return self.output(StackOutputs.MODELS_BUCKET)

    @property
    def results_table(self) -> str:
        return self.output(StackOutputs.RESULTS_TABLE)

    @property
    def queue_url(self) -> str:
        return self.output(StackOutputs.QUEUE_URL)

    @property
    def dead_letter_queue_url(self) -> str:
        return self.output(StackOutputs.DEAD_LETTER_QUEUE_URL)

    @property
    def model_pointer_parameter(self) -> str:
        return self.output(StackOutputs.MODEL_POINTER_PARAMETER)

    @property
    def state_machine_arn(self) -> str:
        return self.output(StackOutputs.STATE_MACHINE_ARN)

    @property
    def index_shards(self) -> int:
        """The write shards of every index's partitions (the function's INDEX_SHARDS)."""
        raw = self.output(StackOutputs.INDEX_SHARDS)
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_INDEX_SHARDS:
            raise CliError(
                f"environment {self.env!r} has an unusable {StackOutputs.INDEX_SHARDS} {raw!r}"
            )
        return int(raw)

    def artifact_uri(self, version: str) -> str:
        return f"s3://{self.models_bucket}/{artifact_key(version)}"

    def client(self, service: str) -> Any:
        """A boto3 client for this environment (cached; boto3 clients are thread-safe)."""
        if service not in self._clients:
            self._clients[service] = _session(self).client(
                service, endpoint_url=self.endpoint_url, config=_CLIENT_CONFIG
            )
        return self._clients[service]

    def resource(self, service: str) -> Any:
        key = f"resource:{service}"
        if key not in self._clients:
            self._clients[key] = _session(self).resource(
                service, endpoint_url=self.endpoint_url, config=_CLIENT_CONFIG
            )
        return self._clients[key]


def _session(deployment: Deployment) -> boto3.session.Session:
    if deployment.is_local:
        return boto3.session.Session(
            region_name=deployment.region,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
    return boto3.session.Session(region_name=deployment.region)


def local_deployment(
    endpoint_url: str, region: str, outputs: dict[str, str], home: Path | None = None
) -> Deployment:
    """A Deployment for a local environment: known in this process (the demo, tests), or
    `imgclf local up`'s in `home`."""
    return Deployment(
        env=LOCAL_ENV, outputs=dict(outputs), endpoint_url=endpoint_url, region=region, home=home
    )


def resolve(env_name: str) -> Deployment:
    """`local`: the environment `imgclf local up` runs; any other name: stack imgclf-<name>."""
    if env_name == LOCAL_ENV:
        return _resolve_local()
    try:
        load_environment(env_name)
    except ConfigError as error:
        raise CliError(str(error)) from None
    return _resolve_stack(env_name)


def running_local_state() -> dict[str, Any] | None:
    """The running local environment's state file, or None: no file, or a stale one (its
    process gone, or its endpoint not answering)."""
    state = read_state()
    if state is None:
        return None
    pid = state.get("pid")
    alive = isinstance(pid, int) and process_alive(pid)
    return state if alive and is_answering(str(state.get("endpoint_url", ""))) else None


def _resolve_local() -> Deployment:
    state = running_local_state()
    if state is None:
        where = state_path()
        stale = f" (stale state file {where})" if read_state() is not None else f" ({where})"
        raise CliError(
            f"no local environment is running{stale}; start one with `imgclf local up`, "
            f"or point {HOME_VARIABLE} at the .imgclf folder of the one that runs"
        )
    endpoint_url = str(state.get("endpoint_url", ""))
    outputs = dict(state.get("outputs", {}))
    return local_deployment(endpoint_url, str(state.get("region")), outputs, imgclf_home())


def _resolve_stack(env_name: str) -> Deployment:
    name = stack_name(env_name)
    try:
        session = boto3.session.Session()
        cloudformation = session.client("cloudformation", config=_CLIENT_CONFIG)
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        if "does not exist" in message:
            raise CliError(
                f"environment {env_name!r} is not deployed: no stack {name} in "
                f"{session.region_name or 'the default region'} (deploy it with `cdk deploy`)"
            ) from None
        raise CliError(f"cannot read stack {name}: {message}") from None
    except BotoCoreError as error:
        raise CliError(f"cannot read stack {name}: {error}") from None
    outputs = {
        output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])
    }
    return Deployment(env=env_name, outputs=outputs, region=session.region_name)
