"""The HTML report renders: headless Chromium screenshots a real report, and it is not blank."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from imgclf.demo_report import ReportData, write_report
from imgclf.samples import write_bad_inputs
from imgclf.upload import collect

from .conftest import (
    SCREENSHOT_SIZE,
    RunningEnvironment,
    colour_jpeg,
    screenshot,
    write_colour_images,
)


def test_the_report_renders_in_chromium(env: RunningEnvironment, tmp_path: Path) -> None:
    # Given classified and rejected objects, and a training report with a plot
    write_colour_images(tmp_path / "in" / "shots", 3)
    write_bad_inputs(tmp_path / "in" / "bad", colour_jpeg("red", 1, size=128))
    uploads = collect([tmp_path / "in" / "shots", tmp_path / "in" / "bad"])
    env.upload(uploads)
    accounting = env.wait([u.key for u in uploads])
    plots = tmp_path / "model-report"
    plots.mkdir()
    Image.fromarray(np.tile(np.arange(256, dtype=np.uint8), (200, 2))).save(
        plots / "learning_curves.png"
    )
    (plots / "classification_report.txt").write_text("red 1.00\n")
    # When the report is written and rendered
    page = write_report(
        ReportData(
            title="imgclf report test",
            items=list(accounting.items.values()),
            files={u.key: u.path for u in uploads},
            truth={u.key: u.key.split("/")[1] for u in uploads if u.key.startswith("shots/")},
            figures={"accuracy": "100%", "throughput": "9 img/s"},
            metadata={"version": "tiny-v1"},
            model_report_dir=plots,
        ),
        tmp_path / "report.html",
    )
    html = page.read_text()
    png = screenshot(page, tmp_path / "report.png")
    # Then the page has every section and thumbnails inlined
    for text in ("Classified, by label", "Rejected (4)", "Training", "bomb.png", "MP limit"):
        assert text in html
    assert html.count("data:image/jpeg;base64,") == 9
    # And the screenshot has the window's size and is not blank
    with Image.open(png) as shot:
        assert shot.size == SCREENSHOT_SIZE
        pixels = np.asarray(shot.convert("L"), dtype=np.float32)
    assert pixels.std() > 10  # a blank (or error) page is nearly one colour
    assert (pixels < 128).mean() > 0.001  # some dark text or images
