"""Third-party validators over the synthesized templates: cfn-lint and asl-validator.

cfn-lint runs in process (its Python API) on each template, in the template's region. The
Amazon States Language validator is the npm package `asl-validator` (package.json, installed
by `make node-deps`), run on each state machine's DefinitionString after its intrinsics
(Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::FindInMap) are replaced by placeholder names and ARNs
of the right shape, as CloudFormation would resolve them at deploy time.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.api import ManualArgs, lint

REPO_ROOT = Path(__file__).resolve().parents[2]
ASL_VALIDATOR = REPO_ROOT / "node_modules" / ".bin" / "asl-validator"
PLACEHOLDER_ACCOUNT = "123456789012"
PLACEHOLDER_REGION = "us-east-1"

# cfn-lint warnings we accept, by rule, with the reason. Anything else fails the tests.
ACCEPTED_WARNINGS = {
    "W3005": (
        "CDK itself writes these DependsOn: a function on its role and default policy, the "
        "state machine on its role, the bucket notifications on the queue policy, so the "
        "policy exists before the first invocation or delivery. The GetAtt covers the role, "
        "not the policy, and CDK offers no switch to drop the redundant half."
    ),
}


@dataclass(frozen=True)
class Finding:
    """One cfn-lint match, as a line a test failure can print."""

    rule: str
    level: str  # "error", "warning" or "informational"
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule} ({self.level}) at {self.path}: {self.message}"


def cfn_lint(template: dict[str, Any], region: str) -> list[Finding]:
    """Every cfn-lint finding for `template` in `region` (errors and warnings)."""
    matches = lint(json.dumps(template), config=ManualArgs(regions=[region]))
    return [
        Finding(
            rule=match.rule.id,
            level=match.rule.severity,
            path="/".join(str(part) for part in match.path),
            message=match.message,
        )
        for match in matches
    ]


def unaccepted(findings: list[Finding]) -> list[Finding]:
    """The findings that neither pass nor have a reason in ACCEPTED_WARNINGS."""
    return [
        finding
        for finding in findings
        if finding.level == "error" or finding.rule not in ACCEPTED_WARNINGS
    ]


class Resolver:
    """Replaces a template's intrinsics by what CloudFormation would put there."""

    def __init__(self, template: dict[str, Any], region: str, account: str) -> None:
        self._resources: dict[str, Any] = template.get("Resources", {})
        self._mappings: dict[str, Any] = template.get("Mappings", {})
        self._pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "stack",
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/stack/id",
        }
        self._region = region
        self._account = account

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {key: self.resolve(item) for key, item in value.items()}
        ((name, argument),) = value.items()
        if name == "Ref":
            return self.ref(argument)
        if name == "Fn::GetAtt":
            logical_id, attribute = (
                argument if isinstance(argument, list) else argument.split(".", 1)
            )
            return self.get_att(logical_id, attribute)
        if name == "Fn::Join":
            separator, parts = argument
            return str(separator).join(str(self.resolve(part)) for part in parts)
        if name == "Fn::Sub":
            return self.sub(argument)
        if name == "Fn::FindInMap":
            mapping, first, second = (self.resolve(part) for part in argument)
            return self._mappings[mapping][first][second]
        return {name: self.resolve(argument)}

    def ref(self, name: str) -> str:
        if name in self._pseudo:
            return self._pseudo[name]
        type_ = self._resources[name]["Type"]
        if type_ == "AWS::SQS::Queue":
            return f"https://sqs.{self._region}.amazonaws.com/{self._account}/{name}"
        if type_ == "AWS::S3::Bucket":
            return name.lower()
        return name

    def get_att(self, logical_id: str, attribute: str) -> str:
        type_ = self._resources[logical_id]["Type"]
        if attribute != "Arn":
            return f"{logical_id}-{attribute}"
        service = type_.split("::")[1].lower()
        if type_ == "AWS::IAM::Role":
            return f"arn:aws:iam::{self._account}:role/{logical_id}"
        if type_ == "AWS::Lambda::Function":
            return f"arn:aws:lambda:{self._region}:{self._account}:function:{logical_id}"
        if type_ == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{logical_id.lower()}"
        return f"arn:aws:{service}:{self._region}:{self._account}:{logical_id}"

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        resolved = {name: str(self.resolve(value)) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in resolved:
                return resolved[name]
            if "." in name and name.split(".", 1)[0] in self._resources:
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


def state_machine_definitions(
    template: dict[str, Any], *, region: str, account: str = PLACEHOLDER_ACCOUNT
) -> dict[str, dict[str, Any]]:
    """Logical ID -> the ASL of each state machine, intrinsics resolved to placeholders."""
    resolver = Resolver(template, region=region, account=account)
    definitions = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        properties = resource["Properties"]
        if "Definition" in properties:
            definitions[logical_id] = resolver.resolve(properties["Definition"])
        else:
            definitions[logical_id] = json.loads(resolver.resolve(properties["DefinitionString"]))
    return definitions


def asl_validate(definition: dict[str, Any]) -> tuple[bool, str]:
    """asl-validator's verdict on one definition: (valid, its report)."""
    if not ASL_VALIDATOR.is_file():
        raise FileNotFoundError(f"{ASL_VALIDATOR} is missing: run `make node-deps`")
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(definition, file)
        file.flush()
        completed = subprocess.run(
            [str(ASL_VALIDATOR), "--json-path", file.name],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    return completed.returncode == 0, (completed.stdout + completed.stderr).strip()
