"""The real data set and a real (small, fast) trained model, through the whole pipeline and demo.

The model is trained once per code version and cached in .imgclf/test-cache (gitignored), so a
second run of the suite reuses it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifier.artifact_files import unpack_artifact
from classifier.contracts import Status
from classifier.imaging import ImageLimits, prepare_image
from classifier.model import LoadedModel
from imgclf.demo import CachedModel, cached_or_trained, run_demo
from imgclf.demo_summary import PATH_LINES, SCREEN_LINES
from imgclf.main import main as cli_main
from imgclf.trainer import TrainingSettings
from imgclf.upload import collect
from tests.fixtures.cache_entries import exclusive

from .conftest import SCREENSHOT_SIZE, RunningEnvironment, screenshot

REPO = Path(__file__).resolve().parents[2]
MODEL_CACHE = REPO / ".imgclf" / "test-cache" / "models"
# Small and quick on two cores; the demo trains with training's defaults instead.
FAST_TRAINING = TrainingSettings(
    dataset="emoji",
    epochs=15,
    image_size=64,
    images_per_class=200,
    heldout_images_per_class=0,
    min_int8_accuracy=0.5,
    # A 64 px model trained for 15 epochs flips a few of its 300 test images in int8: 25
    # local trainings ranged from 4 gained to 2 lost, and one clean-clone CI run lost 4
    # (1.33 pp), over the default 1 pp. This test is about the pipeline; the demo keeps 1 pp.
    max_drop_pp=2.0,
)
MIN_ACCURACY = 0.6  # chance is 0.1; this model scores about 0.8 on its test split
HELD_OUT_SEED = 777


@pytest.fixture(scope="session")
def emoji_model() -> CachedModel:
    with exclusive(MODEL_CACHE / ".emoji.lock"):  # parallel workers train it once
        return cached_or_trained(FAST_TRAINING, cache_root=MODEL_CACHE)


@pytest.fixture()
def env(
    environment_factory: Callable[..., RunningEnvironment], emoji_model: CachedModel
) -> Iterator[RunningEnvironment]:
    running = environment_factory(workers=2)
    try:  # stopped even when the promotion fails, or the next test could not start one
        running.promote(emoji_model.tarball, emoji_model.version)
        yield running
    finally:
        running.environment.stop()


def offline_labels(model: CachedModel, paths: list[Path]) -> list[str]:
    with tempfile.TemporaryDirectory() as directory:
        loaded = LoadedModel.from_directory(
            unpack_artifact(model.tarball.read_bytes(), Path(directory))
        )
        return [
            loaded.classify(
                prepare_image(path.read_bytes(), loaded.spec, ImageLimits()).array
            ).best.label
            for path in paths
        ]


def test_held_out_images_are_classified_correctly(
    env: RunningEnvironment, emoji_model: CachedModel, tmp_path: Path
) -> None:
    from training.datasets import emoji

    # Given unseen images (another seed than training's), ground truth = folder
    emoji.generate(tmp_path / "unseen", images_per_class=6, seed=HELD_OUT_SEED)
    uploads = collect([tmp_path / "unseen"])
    # When they go through the pipeline
    env.upload(uploads)
    accounting = env.wait([u.key for u in uploads], timeout=120)
    # Then every one is classified
    assert accounting.complete and not accounting.dead_lettered
    items = [accounting.items[u.key] for u in uploads]
    assert {item["status"] for item in items} == {Status.CLASSIFIED}
    # And exactly as the model classifies the same bytes offline (no drift in the pipeline)
    assert [item["label"] for item in items] == offline_labels(
        emoji_model, [u.path for u in uploads]
    )
    # And mostly right
    correct = sum(
        item["label"] == u.key.split("/")[-2] for item, u in zip(items, uploads, strict=True)
    )
    assert correct / len(uploads) >= MIN_ACCURACY, f"{correct}/{len(uploads)}"


def test_the_demo_runs_end_to_end_and_its_report_renders(
    emoji_model: CachedModel, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # When the demo runs with the cached model (no environment of this module is running)
    code = run_demo(
        uploads_per_class=3,
        out=tmp_path / "demo",
        timeout_seconds=180,
        settings=FAST_TRAINING,
        cache_root=MODEL_CACHE,
    )
    # Then it succeeds, and its summary is one screen: per-label accuracy, the rejects with
    # their reasons, the figures, the live model, the report and the full table's command
    assert code == 0
    shown = capfd.readouterr()
    lines = shown.out.rstrip("\n").splitlines()
    assert len(lines) <= SCREEN_LINES, shown.out
    # (a line that ends in a path is as long as the run directory's or the model cache's)
    assert all(len(line) <= 100 for line in lines if not line.startswith(PATH_LINES)), shown.out
    text = shown.out
    assert text.startswith("live model: ") and "quality gate" in lines[0]
    # And the live model's artifact is named by its path, a file that is there
    assert lines[1].startswith("live artifact: ") and lines[1].endswith("model.tar.gz")
    assert Path(lines[1].removeprefix("live artifact: ")).is_file()
    assert "accuracy by label" in text and "\nall " in text and "renderings" in text
    assert "rejected (4):" in text and "bomb.png" in text and "MP limit" in text
    assert "uploaded · " in text and "throughput " in text and "report: " in text
    assert "user tags kept, imgclf tags added" in text
    # And no framework's log line reaches the terminal (TensorFlow, absl, LiteRT, warnings)
    for noise in ("INFO:", "I0000", "W0000", "WARNING", "tensorflow", "absl", "XNNPACK"):
        assert noise not in shown.out + shown.err, noise
    # And the full table is the command it prints
    command = text.split("full table: ", 1)[1].strip().split()
    assert command[:3] == ["imgclf", "results", "--file"]
    assert cli_main(command[1:]) == 0
    table = capfd.readouterr().out
    assert "results in" in table and "bomb.png" in table
    page = tmp_path / "demo" / "report.html"
    html = page.read_text()
    assert "Rejected (4)" in html and "bomb.png" in html
    assert html.count("data:image/png;base64,") >= 2  # learning curves + confusion matrix
    # And Chromium renders it: a screenshot of the expected size that is not blank
    png = screenshot(page, tmp_path / "report.png")
    with Image.open(png) as shot:
        assert shot.size == SCREENSHOT_SIZE
        pixels = np.asarray(shot.convert("L"), dtype=np.float32)
    assert pixels.std() > 10
