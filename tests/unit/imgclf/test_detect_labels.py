"""`--format detect-labels`: results items as Rekognition DetectLabels answers (pure)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from PIL import ImageColor

from classifier.colours import PALETTE, srgb_to_lab
from imgclf.detect_labels import (
    DetectLabelsRejectedError,
    css_color_name,
    detect_labels_response,
    display_name,
    lab_to_rgb,
    response_lines,
)
from tests.fixtures.hierarchy import small_hierarchy

HIERARCHY = small_hierarchy()
REKOGNITION = botocore.session.get_session().get_service_model("rekognition")
DETECT_LABELS = REKOGNITION.operation_model("DetectLabels")


def golden_item(**changes: Any) -> dict[str, Any]:
    """A CLASSIFIED item of a generic model, as DynamoDB returns it (Decimals)."""
    item: dict[str, Any] = {
        "bucket": "images",
        "key": "pets/rex.jpg",
        "status": "CLASSIFIED",
        "label": "golden retriever",
        "confidence": Decimal("0.61"),
        "model_version": "generic-v1",
        "labels": {
            "golden retriever": Decimal("0.61"),
            "retriever": Decimal("0.7"),
            "dog": Decimal("0.97"),
            "mammal": Decimal("0.98"),
            "animal": Decimal("0.99"),
        },
        "quality": {"brightness": Decimal(52), "sharpness": Decimal(71), "contrast": Decimal(40)},
        "colours": [
            {
                "name": "tan",
                "family": "brown",
                "lab": [Decimal("74.9"), Decimal("5.0"), Decimal("24.4")],
                "fraction": Decimal("0.512"),
            },
            {
                "name": "sky blue",
                "family": "blue",
                "lab": [Decimal("79.2"), Decimal("-14.8"), Decimal("-21.3")],
                "fraction": Decimal("0.3"),
            },
        ],
    }
    return {**item, **changes}


def assert_is_a_detect_labels_response(response: dict[str, Any]) -> None:
    """Every key and type is one DetectLabels' response documents (botocore's model of it)."""
    report = ParamValidator().validate(response, DETECT_LABELS.output_shape)
    assert not report.has_errors(), report.generate_report()


def test_a_generic_item_is_a_detect_labels_response_with_its_lineage() -> None:
    # When a golden retriever item is converted
    response = detect_labels_response(golden_item(), HIERARCHY)
    # Then it has DetectLabels' shape, its labels most confident first, in Title Case
    assert_is_a_detect_labels_response(response)
    names = [label["Name"] for label in response["Labels"]]
    assert names == ["Animal", "Mammal", "Dog", "Retriever", "Golden Retriever"]
    golden = response["Labels"][-1]
    assert golden["Confidence"] == pytest.approx(61.0)
    # And Parents are every ancestor, nearest first; categories are inherited
    assert golden["Parents"] == [{"Name": n} for n in ("Retriever", "Dog", "Mammal", "Animal")]
    assert golden["Categories"] == [{"Name": "Animals and Pets"}]
    assert golden["Instances"] == []
    animal = response["Labels"][0]
    # (aliases in Title Case too, as names are: code matching one matches the other)
    assert animal["Parents"] == [] and animal["Aliases"] == [
        {"Name": "Creature"},
        {"Name": "Fauna"},
    ]
    assert response["LabelModelVersion"] == "generic-v1"
    # And the image properties are its quality and colours in Rekognition's units
    quality = response["ImageProperties"]["Quality"]
    assert quality == {"Brightness": 52.0, "Sharpness": 71.0, "Contrast": 40.0}
    tan = response["ImageProperties"]["DominantColors"][0]
    assert tan["CSSColor"] == "tan" and tan["SimplifiedColor"] == "brown"
    assert tan["PixelPercent"] == pytest.approx(51.2)
    assert tan["HexCode"] == f"#{tan['Red']:02X}{tan['Green']:02X}{tan['Blue']:02X}"
    assert abs(tan["Red"] - 0xD2) <= 2 and abs(tan["Blue"] - 0x8C) <= 2


def test_an_item_of_an_older_model_gives_its_label_alone() -> None:
    # Given an item from before generic labels, with a trained label, no quality, no colours
    item = golden_item(label="my-widget", confidence=Decimal("0.8312"))
    for name in ("labels", "quality", "colours"):
        item.pop(name)
    # When it is converted (no hierarchy needed)
    response = detect_labels_response(item, None)
    # Then it is its label, as written, with no parents and no image properties
    assert_is_a_detect_labels_response(response)
    assert response["Labels"] == [
        {
            "Name": "my-widget",
            "Confidence": pytest.approx(83.12),
            "Instances": [],
            "Parents": [],
            "Aliases": [],
            "Categories": [],
        }
    ]
    assert "ImageProperties" not in response
    # And an unknown item has no labels at all
    assert detect_labels_response({**item, "label": "unknown"}, None)["Labels"] == []


def test_a_trained_label_beside_generic_labels_is_shown_once() -> None:
    # A day-0 model writes its trained label and the generic labels
    both = detect_labels_response(golden_item(label="dog"), HIERARCHY)
    assert [label["Name"] for label in both["Labels"]].count("Dog") == 1
    # And a trained label in the plural (a folder of "dogs") is that label, shown once
    plural = detect_labels_response(golden_item(label="dogs"), HIERARCHY)
    assert [label["Name"] for label in plural["Labels"]].count("Dog") == 1
    assert "dogs" not in [label["Name"] for label in plural["Labels"]]
    # At the trained label's confidence when it is higher (the row's own figure)
    sure = detect_labels_response(golden_item(label="dog", confidence=Decimal("0.994")), HIERARCHY)
    dog = next(label for label in sure["Labels"] if label["Name"] == "Dog")
    assert dog["Confidence"] == pytest.approx(99.4)
    # And its parents are raised with it: no parent below a child (mammal was 98, animal 99)
    confidence = {label["Name"]: label["Confidence"] for label in sure["Labels"]}
    assert confidence["Mammal"] == confidence["Animal"] == pytest.approx(99.4)
    assert all(
        confidence[parent["Name"]] >= label["Confidence"]
        for label in sure["Labels"]
        for parent in label["Parents"]
    )
    widget = detect_labels_response(golden_item(label="my-widget"), HIERARCHY)
    assert "my-widget" in [label["Name"] for label in widget["Labels"]]
    assert_is_a_detect_labels_response(widget)


def test_rejected_items_raise_for_one_and_are_skipped_in_lists() -> None:
    rejected = {"bucket": "images", "key": "bad.png", "status": "REJECTED", "reason": "empty file"}
    with pytest.raises(DetectLabelsRejectedError, match="'bad.png' was rejected: empty file"):
        detect_labels_response(rejected, None)
    lines = response_lines([rejected, golden_item(version_id="v7")], HIERARCHY)
    # Then each line is a response plus the DetectLabels request's own Image naming the object
    assert len(lines) == 1
    image = lines[0].pop("Image")
    assert image == {"S3Object": {"Bucket": "images", "Name": "pets/rex.jpg", "Version": "v7"}}
    image_shape = DETECT_LABELS.input_shape.members["Image"]
    assert not ParamValidator().validate(image, image_shape).has_errors()
    assert_is_a_detect_labels_response(lines[0])


def test_a_minimum_confidence_drops_the_labels_below_it_as_min_confidence_does() -> None:
    # `results --min-confidence 0.9 --format detect-labels` listed a retriever at 70
    (line,) = response_lines([golden_item()], HIERARCHY, min_confidence=0.9)
    assert [label["Name"] for label in line["Labels"]] == ["Animal", "Mammal", "Dog"]
    (line,) = response_lines([golden_item()], HIERARCHY, min_confidence=0.61)
    assert "Golden Retriever" in [label["Name"] for label in line["Labels"]]
    line.pop("Image")
    assert_is_a_detect_labels_response(line)


@pytest.mark.parametrize("colour", PALETTE, ids=lambda colour: colour.name)
def test_lab_to_rgb_inverts_the_classifiers_srgb_to_lab(colour: Any) -> None:
    lab = srgb_to_lab(list(colour.rgb))
    rgb = lab_to_rgb([float(value) for value in lab])
    assert all(abs(a - b) <= 1 for a, b in zip(rgb, colour.rgb, strict=True))


def test_lab_to_rgb_clips_out_of_gamut_colours() -> None:
    assert lab_to_rgb([100.0, 0.0, 0.0]) == (255, 255, 255)
    assert lab_to_rgb([0.0, 0.0, 0.0]) == (0, 0, 0)
    assert all(0 <= c <= 255 for c in lab_to_rgb([50.0, 120.0, -120.0]))


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("golden retriever", "Golden Retriever"),
        ("dog", "Dog"),
        ("CD player", "CD Player"),
        ("t-shirt", "T-Shirt"),
        # Small words stay small, as in "Bird of Prey" (it was "Bearskin Or Shako")
        ("military hat - bearskin or shako", "Military Hat - Bearskin or Shako"),
        ("hen of the woods mushroom", "Hen of the Woods Mushroom"),
        ("a-frame", "A-Frame"),
        ("Black and Tan Coonhound", "Black and Tan Coonhound"),
        ("ear of corn", "Ear of Corn"),
        ("of", "Of"),
    ],
)
def test_names_are_title_cased_as_rekognition_writes_them(name: str, shown: str) -> None:
    assert display_name(name) == shown
    assert HIERARCHY.find(display_name("golden retriever")) is not None


def test_css_color_is_a_css_colour_name() -> None:
    # CSSColor was the palette's own name: "charcoal", "hot pink" (with a space), and
    # "chocolate" for a colour far from CSS chocolate (#D2691E)
    response = detect_labels_response(golden_item(), HIERARCHY)
    shown = [colour["CSSColor"] for colour in response["ImageProperties"]["DominantColors"]]
    assert shown == ["tan", "skyblue"]
    for colour in PALETTE:
        assert css_color_name(colour.rgb) in ImageColor.colormap, colour.name
    assert css_color_name((210, 105, 30)) == "chocolate"
    assert css_color_name((54, 69, 79)) == "darkslategray"
