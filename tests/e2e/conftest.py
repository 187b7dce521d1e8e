"""End-to-end fixtures: the real local environment, the real handler, real int8 models.

Each module that needs an environment starts its own (module scope): moto keeps its state in
process globals and the handler reads os.environ, so only one environment runs at a time.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from imgclf.accounting import Accounting, wait_until_accounted
from imgclf.deployment import Deployment
from imgclf.local import deployment_of
from imgclf.main import main
from imgclf.models import promote, upload_artifact
from imgclf.upload import Upload, upload_all
from infra.environment_config import load_environment
from infra.local.environment import LocalEnvironment
from infra.local.poller import EventSourcePoller
from tests.fixtures.tiny_model import reversioned

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}
FAST_MODEL_REFRESH_SECONDS = "0.5"


@pytest.fixture(scope="session")
def imgclf_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The end-to-end tests' IMGCLF_HOME: state files and generated data stay out of the repo."""
    return tmp_path_factory.mktemp("imgclf-home")


@pytest.fixture(autouse=True)
def _imgclf_home_variable(imgclf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """IMGCLF_HOME set for each end-to-end test only (the in-process CLI reads it), so that
    no test elsewhere in the session inherits it."""
    monkeypatch.setenv("IMGCLF_HOME", str(imgclf_home))


@pytest.fixture(scope="session")
def tiny_artifacts(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The red/green/blue model as two versions: tiny-v1 and tiny-v2."""
    root = tmp_path_factory.mktemp("tiny-artifacts")
    return {v: reversioned(tiny_model_dir, v, root / v) for v in ("tiny-v1", "tiny-v2")}


def colour_jpeg(colour: str, seed: int, size: int = 48) -> bytes:
    """A noisy image dominated by one colour: the tiny model's kind of input."""
    rng = np.random.default_rng(seed)
    pixels = np.array(COLOURS[colour], np.float32) + rng.normal(0, 20, (size, size, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def write_colour_images(directory: Path, per_colour: int, seed: int = 0) -> list[Path]:
    paths = []
    for colour in COLOURS:
        (directory / colour).mkdir(parents=True, exist_ok=True)
        for i in range(per_colour):
            path = directory / colour / f"{colour}-{seed}-{i}.jpg"
            path.write_bytes(colour_jpeg(colour, seed * 1000 + i))
            paths.append(path)
    return paths


@dataclass
class RunningEnvironment:
    """A started local environment and the CLI's view of it."""

    environment: LocalEnvironment
    deployment: Deployment

    def promote(self, artifact: Path, version: str) -> None:
        upload_artifact(self.deployment, artifact, version)
        promote(self.deployment, version)

    def upload(self, uploads: list[Upload], tags: dict[str, str] | None = None) -> None:
        upload_all(self.deployment, uploads, tags=tags)

    def wait(self, keys: list[str], timeout: float = 60, **kwargs: Any) -> Accounting:
        return wait_until_accounted(self.deployment, keys, timeout_seconds=timeout, **kwargs)

    def sqs(self) -> Any:
        return self.deployment.client("sqs")

    def queue_depth(self, dead_letter: bool = False) -> int:
        url = self.deployment.dead_letter_queue_url if dead_letter else self.deployment.queue_url
        attributes = self.sqs().get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())


def start_environment(home: Path, **kwargs: Any) -> RunningEnvironment:
    settings = {"MODEL_REFRESH_SECONDS": FAST_MODEL_REFRESH_SECONDS}
    settings.update(kwargs.pop("function_settings", {}))
    environment = LocalEnvironment(
        load_environment("local"), home=home, function_settings=settings, **kwargs
    ).start()
    return RunningEnvironment(environment, deployment_of(environment))


@pytest.fixture(scope="session")
def environment_factory(
    imgclf_home: Path,
) -> Callable[..., RunningEnvironment]:
    return lambda **kwargs: start_environment(imgclf_home, **kwargs)


@dataclass
class CliRun:
    code: int
    out: str
    err: str


@pytest.fixture()
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliRun]:
    """Run `imgclf ARGS` in this process (so it sees this process's environment)."""

    def run(*args: str) -> CliRun:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT_SIZE = (1280, 2000)


def screenshot(page: Path, png: Path, size: tuple[int, int] = SCREENSHOT_SIZE) -> Path:
    """Render a local HTML file with headless Chromium (as root: no sandbox) into a PNG."""
    import subprocess
    import tempfile

    if CHROMIUM is None:
        pytest.fail("Chromium is not installed (make system-deps installs Debian's chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--hide-scrollbars",
                f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
                f"--screenshot={png}", page.as_uri(),
            ],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    return png


@pytest.fixture(scope="module")
def env(
    environment_factory: Callable[..., RunningEnvironment], tiny_artifacts: dict[str, Path]
) -> Iterator[RunningEnvironment]:
    """A running environment with the tiny model promoted (modules may override it)."""
    running = environment_factory(workers=2)
    try:  # stopped even when the promotion fails, or the next test could not start one
        running.promote(tiny_artifacts["tiny-v1"], "tiny-v1")
        yield running
    finally:
        running.environment.stop()


def poller_of(env: RunningEnvironment) -> EventSourcePoller:
    """The running environment's poller (it has one while it runs)."""
    assert env.environment.poller is not None
    return env.environment.poller
