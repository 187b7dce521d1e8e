"""The CDK app: `npx cdk synth -c env=dev`, `npx cdk deploy -c env=prod`.

The only place that names environments. Account and region come from CDK_DEFAULT_ACCOUNT /
CDK_DEFAULT_REGION (the CLI sets them from the credentials it deploys with); synthesis makes
no lookups, no AWS calls and starts no container.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from aws_cdk import App, Environment

from classifier.contracts import LOCAL_ENV
from infra.constructs.nag import add_nag_checks
from infra.environment_config import ConfigError, load_environment, read_context
from infra.resources import stack_name
from infra.stack import REPO_ROOT, ImgclfStack

ENV_CONTEXT_KEY = "env"


class AppError(ValueError):
    """The app was asked for something it cannot synthesize."""


def build_stack(app: App, env_name: str, *, repo_root: Path = REPO_ROOT) -> ImgclfStack:
    """The stack of one environment, with the cdk-nag packs attached."""
    if env_name == LOCAL_ENV:
        raise AppError("'local' is the embedded environment (`imgclf local up`), not a stack")
    config = load_environment(env_name)
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
        deployable = sorted(set(read_context()) - {LOCAL_ENV})
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
