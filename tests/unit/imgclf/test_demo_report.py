"""The report's model comparison and galleries, rendered from plain data (no AWS, no browser)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from classifier.contracts import Status
from imgclf.demo_report import ReportData, render


def evaluations(**sets: tuple[float, int]) -> dict[str, object]:
    return {
        "metrics": {
            "evaluations": {name: {"accuracy": a, "count": n} for name, (a, n) in sets.items()}
        }
    }


def test_the_report_compares_models_per_evaluation_set_with_the_live_run(tmp_path: Path) -> None:
    day0 = {"version": "day0-x", **evaluations(**{"real-photos": (0.871, 31)})}
    trained = {
        "version": "emoji-y",
        **evaluations(**{"real-photos": (0.903, 31), "emoji-renderings": (0.953, 300)}),
    }
    html = render(
        ReportData(
            title="t",
            items=[],
            files={},
            truth={},
            figures={},
            models={"day-0": day0, "trained": trained},
            live={"real-photos": "90.3% of 31", "emoji-renderings": "95.0% of 200"},
        )
    )
    table = html[html.index("Models, by evaluation set") :]
    row = table[table.index("<td>real-photos</td>") :].split("</tr>")[0]
    assert "87.1%" in row and "90.3% <small>of 31" in row and "90.3% of 31" in row
    renders = table[table.index("<td>emoji-renderings</td>") :].split("</tr>")[0]
    assert "<td>–</td>" in renders  # the day-0 model was not scored on renderings
    assert "day0-x" in table and "emoji-y" in table


def test_real_photographs_get_their_own_gallery_before_the_rest(tmp_path: Path) -> None:
    image = tmp_path / "a.jpg"
    Image.new("RGB", (40, 30), (200, 100, 50)).save(image)
    items = [
        {"key": "photos/dog/a.jpg", "status": Status.CLASSIFIED, "label": "dog", "confidence": 0.9},
        {
            "key": "heldout/cat/b.jpg",
            "status": Status.CLASSIFIED,
            "label": "dog",
            "confidence": 0.6,
        },
    ]
    html = render(
        ReportData(
            title="t",
            items=items,
            files={"photos/dog/a.jpg": image, "heldout/cat/b.jpg": image},
            truth={"photos/dog/a.jpg": "dog", "heldout/cat/b.jpg": "cat"},
            figures={},
            galleries={"photos/": "Real photographs, by label"},
        )
    )
    photos_at = html.index("Real photographs, by label")
    others_at = html.index("Other images, by label")
    assert photos_at < others_at
    assert "photos/dog/a.jpg" in html[photos_at:others_at]
    assert "heldout/cat/b.jpg" in html[others_at:] and "is cat" in html[others_at:]


def test_thumbnails_of_cut_outs_are_on_white_as_the_function_sees_them(tmp_path: Path) -> None:
    import base64
    import io

    from imgclf.demo_report import _thumbnail

    cut_out = tmp_path / "stamp.png"
    Image.new("RGBA", (50, 50), (0, 0, 0, 0)).save(cut_out)  # fully transparent
    uri = _thumbnail(cut_out)
    assert uri is not None
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as thumb:
        assert min(thumb.convert("L").getdata()) > 240


def test_the_report_shows_the_calibration_and_the_unknown_rule() -> None:
    import numpy as np

    from classifier.model import calibrate, softmax
    from imgclf.demo_report import reliability
    from training.calibration import fit_calibration

    rng = np.random.default_rng(0)
    probabilities = softmax(rng.normal(0, 1.5, (600, 4)))
    truth = np.array([rng.choice(4, p=p) for p in probabilities])
    fitted = fit_calibration(calibrate(probabilities, 0.4), truth, fitted_on="validation")
    metadata = {
        "version": "v1",
        "calibration": fitted.to_dict(),
        "unknown": {
            "max_other": 0.44,
            "keep_confidence": 0.98,
            "min_confidence": None,
            "chosen_by": "the most caught",
            "outside": {"count": 32, "caught": 0.875},
        },
    }
    html = render(
        ReportData(title="t", items=[], files={}, truth={}, figures={}, metadata=metadata)
    )
    section = html[html.index("Confidence and") :]
    assert "max_other 0.44, keep_confidence 0.98" in section and "caught 88%" in section
    row = section[section.index("<td>validation</td>") :].split("</tr>")[0]
    before, after = fitted.details["ece_before"], fitted.details["ece_after"]
    assert f"{before:.3f}" in row and f"{after:.3f}" in row and after < before
    assert section.count("<svg") == 2  # before and after
    # one bar per non-empty bin, its height the bin's accuracy
    bins = fitted.details["sets"]["validation"]["reliability_after"]
    diagram = reliability(bins, size=108)
    assert len(diagram["bars"]) == sum(1 for b in bins if b["count"])
    svg = section[section.index("<svg") : section.index("</svg>")]
    assert svg.count("<rect") == 1 + sum(
        1 for b in fitted.details["sets"]["validation"]["reliability_before"] if b["count"]
    )


def test_every_value_the_report_shows_is_escaped(tmp_path: Path) -> None:
    # Given a key, a label, a generic label, a reason, a tag, a figure and a model version
    # that hold markup
    evil = "<script>alert(1)</script>"
    items: list[dict[str, Any]] = [
        {
            "key": f"k/{evil}.jpg",
            "status": Status.CLASSIFIED,
            "label": evil,
            "confidence": 0.9,
            "labels": {evil: 0.9},
        },
        {"key": "bad.jpg", "status": Status.REJECTED, "reason": f"not an image: {evil}"},
    ]
    html = render(
        ReportData(
            title=f"demo {evil}",
            items=items,
            files={},
            truth={f"k/{evil}.jpg": "cat"},
            figures={evil: evil},
            tags={f"k/{evil}.jpg": {"owner": evil}},
            metadata={"version": evil},
            dead_letters=[(evil, evil)],
            missing=[evil],
            models={"trained": {"version": evil, **evaluations(**{evil: (0.5, 2)})}},
        )
    )
    # Then no script element reaches the page, and each value shows as text
    assert "<script" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 10
    section = html[html.index("What is in these images") :]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <small>1" in section


def test_the_report_shows_what_is_in_the_images_by_category(tmp_path: Path) -> None:
    from tests.fixtures.hierarchy import small_hierarchy

    # Given items with generic labels, and the images they came from
    image = tmp_path / "a.jpg"
    Image.new("RGB", (40, 30), (200, 100, 50)).save(image)
    dog = {"dalmatian": 0.8, "dog": 0.9, "mammal": 0.95, "animal": 0.97}
    items: list[dict[str, Any]] = [
        {"key": f"photos/dog/{i}.jpg", "status": Status.CLASSIFIED, "label": "dog",
         "confidence": 0.9, "labels": dog}
        for i in range(6)
    ] + [
        {"key": "photos/x/daisy.jpg", "status": Status.CLASSIFIED, "label": "unknown",
         "confidence": 0.4, "labels": {"daisy": 0.7, "plant": 0.72}},
    ]  # fmt: skip
    html = render(
        ReportData(
            title="t",
            items=items,
            files={str(i["key"]): image for i in items},
            truth={},
            figures={},
            hierarchy=small_hierarchy(),
        )
    )
    # Then the section comes before the galleries, with its categories, most images first
    section = html[html.index("What is in these images") : html.index("Classified, by label")]
    assert section.index("Animals and Pets") < section.index("Plants and Flowers")
    assert "Animals and Pets <small>6 images" in section
    # And each label with its count, its parent and at most four example thumbnails
    dalmatian = section[section.index("dalmatian <small>") :].split('class="generic-label"')[0]
    assert "dalmatian <small>6 · under dog" in dalmatian
    assert dalmatian.count("data:image/jpeg;base64,") == 4 and "80%" in dalmatian
    assert "daisy <small>1 · under plant" in section


def test_without_generic_labels_the_report_has_no_such_section() -> None:
    items = [{"key": "k.jpg", "status": Status.CLASSIFIED, "label": "dog", "confidence": 0.9}]
    html = render(ReportData(title="t", items=items, files={}, truth={}, figures={}))
    assert "What is in these images" not in html and "Classified, by label" in html
