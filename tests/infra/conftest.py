"""Infra tests: the dev and prod stacks, synthesized once per session (no Docker, no network).

Both stacks live in one App built with cdk.json's context (the feature flags the CLI uses),
so one synthesis serves every test. dev is environment-agnostic (no CDK_DEFAULT_ACCOUNT /
CDK_DEFAULT_REGION); prod gets a known account and region, as `cdk synth` / `cdk deploy`
give it, so both ways CDK renders ARNs, and both ways the training image is resolved, are
exercised.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from infra.app import build_stack
from infra.environment_config import CDK_JSON, EnvironmentConfig, load_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("dev", "prod")
KNOWN_ACCOUNT_AND_REGION = {"prod": ("111111111111", "eu-west-1")}


def cdk_context() -> dict[str, Any]:
    """cdk.json's context, as `cdk synth` passes it to the app."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def _placeholder(token: Any) -> str:
    """A readable, JSON-safe stand-in for an intrinsic inside a definition string."""
    if isinstance(token, dict) and "Ref" in token:
        return f"<{token['Ref']}>"
    if isinstance(token, dict) and "Fn::GetAtt" in token:
        return f"<{'.'.join(token['Fn::GetAtt'])}>"
    return "<" + re.sub(r'["\\]', "", json.dumps(token, sort_keys=True)) + ">"


@dataclass
class Synthesized:
    """One environment's stack, its template and views the tests share."""

    name: str
    config: EnvironmentConfig
    stack: Stack
    template: Template
    outdir: Path
    data: dict[str, Any] = field(default_factory=dict)

    def assets(self) -> dict[str, Any]:
        """The stack's asset manifest (files and Docker images staged by synthesis)."""
        manifest: dict[str, Any] = json.loads(
            (self.outdir / f"{self.stack.artifact_id}.assets.json").read_text()
        )
        return manifest

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        """Logical ID -> resource, for one CloudFormation type."""
        return {
            logical_id: resource
            for logical_id, resource in self.data["Resources"].items()
            if resource["Type"] == type_
        }

    def only(self, type_: str, *, id_contains: str = "") -> tuple[str, dict[str, Any]]:
        """The single resource of a type (whose logical ID contains `id_contains`)."""
        found = [
            (logical_id, resource)
            for logical_id, resource in self.resources(type_).items()
            if id_contains in logical_id
        ]
        assert len(found) == 1, f"expected one {type_} ~{id_contains!r}, got {len(found)}"
        return found[0]

    def logical_id(self, type_: str, id_contains: str) -> str:
        return self.only(type_, id_contains=id_contains)[0]

    def definition(self) -> dict[str, Any]:
        """The state machine's ASL, with intrinsics shown as <Ref> / <Id.Attr> placeholders."""
        _, machine = self.only("AWS::StepFunctions::StateMachine")
        parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
        text = "".join(part if isinstance(part, str) else _placeholder(part) for part in parts)
        loaded: dict[str, Any] = json.loads(text)
        return loaded

    def states(self) -> dict[str, dict[str, Any]]:
        """Every state by name, nested Map item processors included."""
        found: dict[str, dict[str, Any]] = {}

        def collect(states: dict[str, Any]) -> None:
            for name, state in states.items():
                found[name] = state
                processor = state.get("ItemProcessor") or state.get("Iterator")
                if processor:
                    collect(processor["States"])

        collect(self.definition()["States"])
        return found

    def policy_statements(self, role_id_contains: str) -> list[dict[str, Any]]:
        """All statements of the IAM policies attached to one role."""
        role_id = self.logical_id("AWS::IAM::Role", role_id_contains)
        statements: list[dict[str, Any]] = []
        for policy in self.resources("AWS::IAM::Policy").values():
            if {"Ref": role_id} in policy["Properties"].get("Roles", []):
                statements += policy["Properties"]["PolicyDocument"]["Statement"]
        assert statements, f"no policy attached to {role_id}"
        return statements


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """dev and prod, synthesized together once."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(context=cdk_context(), outdir=str(outdir))
    stacks = {}
    with pytest.MonkeyPatch.context() as patch:
        for name in ENVIRONMENTS:
            if name in KNOWN_ACCOUNT_AND_REGION:
                account, region = KNOWN_ACCOUNT_AND_REGION[name]
                patch.setenv("CDK_DEFAULT_ACCOUNT", account)
                patch.setenv("CDK_DEFAULT_REGION", region)
            else:
                patch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
                patch.delenv("CDK_DEFAULT_REGION", raising=False)
            stacks[name] = build_stack(app, name)
        result = {}
        for name, stack in stacks.items():
            template = Template.from_stack(stack)
            result[name] = Synthesized(
                name=name,
                config=load_environment(name),
                stack=stack,
                template=template,
                outdir=outdir,
                data=dict(template.to_json()),
            )
    return result


@pytest.fixture(scope="session")
def dev(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["dev"]


@pytest.fixture(scope="session")
def prod(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["prod"]


@pytest.fixture(scope="session", params=ENVIRONMENTS)
def env(request: pytest.FixtureRequest, synthesized: dict[str, Synthesized]) -> Synthesized:
    """Each environment in turn, for properties every environment must have."""
    return synthesized[request.param]
