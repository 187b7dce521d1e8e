"""A real `imgclf train` run (CPU, one epoch) prints the files it skipped, with reasons, and
says when its model has no "unknown" rule."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgclf.trainer import TrainingSettings, run_training

pytestmark = pytest.mark.slow


def test_unreadable_files_are_printed_after_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a folder of photos with two files that are no images
    photos = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for label in ("alpha", "beta"):
        (photos / label).mkdir(parents=True)
        for n in range(8):
            buffer = io.BytesIO()
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
            (photos / label / f"{n}.png").write_bytes(buffer.getvalue())
    (photos / "alpha" / "notes.txt").write_text("not an image")
    (photos / "beta" / "empty.jpg").write_bytes(b"")
    settings = TrainingSettings(
        data_dir=photos,
        arch="cnn",
        epochs=1,
        image_size=32,
        min_int8_accuracy=0.0,
        max_drop_pp=100.0,
    )

    # When imgclf trains on it
    run_training(settings, model_dir=tmp_path / "model", work_dir=tmp_path / "work", version="v1")

    # Then each skipped file is one line on stderr with its reason, listed once
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "skipped" in line or line.startswith("  ")]
    assert lines[0] == "skipped 2 unreadable files:"
    assert sorted(line.split(":")[0] for line in lines[1:]) == [
        f"  {photos}/alpha/notes.txt",
        f"  {photos}/beta/empty.jpg",
    ]
    assert all(len(line.split(": ", 1)[1]) > 0 for line in lines[1:])
    # And, with a handful of validation photos, a note that the model has no "unknown" rule
    notes = [line for line in err.splitlines() if line.startswith("note: model v1 ")]
    assert len(notes) == 1, err
    assert "has no 'unknown' rule: " in notes[0] and "validation images" in notes[0]
