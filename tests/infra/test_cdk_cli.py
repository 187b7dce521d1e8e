"""The pinned CDK CLI synthesizes the app, exactly as a developer or a deploy would run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CDK_BIN = REPO_ROOT / "node_modules" / ".bin" / "cdk"
SYNTH_TIMEOUT_SECONDS = 300


def test_npx_cdk_synth_dev_succeeds(tmp_path: Path) -> None:
    # Given the CLI that package.json pins (`npm ci` installs it; `make test` runs that first)
    assert CDK_BIN.exists(), "node_modules/.bin/cdk is missing: run `npm ci` (make node-deps)"
    npx = shutil.which("npx")
    assert npx, "npx is not on PATH: install Node.js 20+"
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CDK_DEFAULT_", "AWS_"))  # no credentials, no lookups
    }
    environment["CDK_DISABLE_VERSION_CHECK"] = "1"
    # When it synthesizes dev
    result = subprocess.run(
        [npx, "--no-install", "cdk", "synth", "-c", "env=dev", "--quiet", "-o", str(tmp_path)],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=SYNTH_TIMEOUT_SECONDS,
        check=False,
    )
    # Then it exits cleanly (cdk-nag errors would fail it) and writes the dev template
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / "imgclf-dev.template.json").read_text())
    assert "TrainingStateMachineArn" in template["Outputs"]


def test_cdk_synth_without_an_environment_says_how_to_pick_one(tmp_path: Path) -> None:
    # When the app runs without -c env=...
    result = subprocess.run(
        [sys.executable, "-m", "infra.app"],
        cwd=REPO_ROOT,
        env={**os.environ, "CDK_OUTDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=SYNTH_TIMEOUT_SECONDS,
        check=False,
    )
    # Then it stops with one line naming the deployable environments
    assert result.returncode == 2
    assert "pass -c env=NAME (one of: dev, prod)" in result.stderr
