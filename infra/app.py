"""The CDK app: `npx cdk synth -c env=dev`, `npx cdk deploy -c env=prod`.

The only place that names environments. Account and region come from CDK_DEFAULT_ACCOUNT /
CDK_DEFAULT_REGION (the CLI sets them from the credentials it deploys with); synthesis makes
no lookups, no AWS calls and starts no container.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment

from classifier.contracts import LOCAL_ENV
from infra.constructs.nag import add_nag_checks
from infra.environment_config import CONTEXT_KEY, ConfigError, load_environment, read_context
from infra.resources import stack_name
from infra.stack import REPO_ROOT, ImgclfStack

ENV_CONTEXT_KEY = "env"


class AppError(ValueError):
    """The app was asked for something it cannot synthesize."""


def app_environments(app: App) -> dict[str, Any]:
    """The environments as the CDK CLI hands them to the app: cdk.json's context, or a
    `-c imgclf:environments=JSON` that replaces it (it was ignored: settings were read from
    cdk.json alone); cdk.json itself for an App made without them (tests)."""
    value = app.node.try_get_context(CONTEXT_KEY)
    if value is None:
        return read_context()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ConfigError(f"-c {CONTEXT_KEY}: not JSON ({error})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{CONTEXT_KEY} must be an object, got {value!r:.60}")
    return value


def build_stack(app: App, env_name: str, *, repo_root: Path = REPO_ROOT) -> ImgclfStack:
    """The stack of one environment, with the cdk-nag packs attached."""
    if env_name == LOCAL_ENV:
        raise AppError("'local' is the embedded environment (`imgclf local up`), not a stack")
    config = load_environment(env_name, app_environments(app))
    stack = ImgclfStack(
        app,
        stack_name(env_name),
        config=config,
        repo_root=repo_root,
        env=Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION"),
        ),
        description=f"imgclf {env_name}: S3 -> SQS -> LiteRT Lambda -> DynamoDB, training",
    )
    add_nag_checks(stack)
    return stack


def main() -> int:
    app = App()
    env_name = app.node.try_get_context(ENV_CONTEXT_KEY)
    if not env_name:
        try:
            deployable = sorted(set(app_environments(app)) - {LOCAL_ENV})
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"error: pass -c env=NAME (one of: {', '.join(deployable)})", file=sys.stderr)
        return 2
    try:
        build_stack(app, str(env_name))
    except (ConfigError, AppError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
