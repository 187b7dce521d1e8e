"""A results item as Amazon Rekognition DetectLabels answers, so code written against
Rekognition reads imgclf's results by changing one call. Pure: the label hierarchy, and the
classifier's colour science with Pillow's table of CSS colour names.

The shape is DetectLabels' response (AWS API Reference: DetectLabels, Label, Parent,
LabelAlias, LabelCategory, DetectLabelsImageProperties, DetectLabelsImageQuality,
DominantColor); tests validate it against botocore's own model of the operation. Choices:

- Names and aliases are the hierarchy's, in Rekognition's Title Case ("Golden Retriever"):
  each word's first letter raised, the rest kept ("CD Player"). `--label` finds them in any case. A
  trained label (an item without generic `labels`) keeps its spelling.
- Parents (every visible ancestor, nearest first: by visible steps up, the more specific
  first among equals), Aliases and Categories are derived from
  the hierarchy when read (`LabelHierarchy.lineage`), never stored. Instances is always
  empty: the models draw no boxes.
- An item without `labels` (a model from before them) gives its `label` alone, unless it is
  `unknown`; one with both `labels` and a trained `label` the hierarchy does not know gives
  the trained label too, and a trained label it knows is that label's entry, at the trained
  confidence when it is higher (the figure `imgclf results` shows and filters on). No
  parent is less confident than a child it lists.
- REJECTED items have no response: DetectLabels raises for an image it cannot read
  (`DetectLabelsRejectedError`, one line; `imgclf results` skips them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import ImageColor

from classifier.colours import delta_e_2000, srgb_to_lab
from classifier.contracts import (
    LABELS_ATTRIBUTE,
    QUALITY_ATTRIBUTE,
    UNKNOWN_LABEL,
    Status,
)
from classifier.hierarchy import LabelHierarchy
from classifier.results import item_labels

# CIE Lab (D65) -> sRGB, the inverse of classifier.colours.srgb_to_lab: IEC 61966-2-1's
# XYZ -> linear sRGB matrix and the D65 white the forward direction uses (its matrix's rows
# summed), so a palette colour goes there and back within one 8-bit code.
_XYZ_TO_LINEAR = (
    (3.2404542, -1.5371385, -0.4985314),
    (-0.9692660, 1.8760108, 0.0415560),
    (0.0556434, -0.2040259, 1.0572252),
)
_WHITE = (0.9504700, 1.0000000, 1.0888300)
_DELTA = 6 / 29
_WORD_START = re.compile(r"(^|[\s\-/(])([a-z])")
_SMALL_WORDS = frozenset({"a", "an", "and", "as", "at", "for", "in", "of", "on", "or", "the", "to"})


class DetectLabelsRejectedError(ValueError):
    """The item is REJECTED: DetectLabels would have raised, not answered."""


def lab_to_rgb(lab: Sequence[float]) -> tuple[int, int, int]:
    """CIE L*a*b* (D65) to 8-bit sRGB, clipped to the gamut."""
    lightness, a, b = (float(value) for value in lab)
    fy = (lightness + 16) / 116
    xyz = [
        white * _f_inverse(f)
        for white, f in zip(_WHITE, (fy + a / 500, fy, fy - b / 200), strict=True)
    ]
    linear = [sum(m * c for m, c in zip(row, xyz, strict=True)) for row in _XYZ_TO_LINEAR]
    red, green, blue = (round(_encode(channel) * 255) for channel in linear)
    return red, green, blue


def _f_inverse(t: float) -> float:
    return t**3 if t > _DELTA else 3 * _DELTA**2 * (t - 4 / 29)


def _encode(linear: float) -> float:
    """Linear light to the sRGB transfer curve, clipped to 0..1."""
    value = min(max(linear, 0.0), 1.0)
    return 12.92 * value if value <= 0.0031308 else 1.055 * value ** (1 / 2.4) - 0.055


def display_name(name: str) -> str:
    """A hierarchy name as Rekognition writes label names: "golden retriever" -> "Golden
    Retriever" (only first letters change: "CD player" -> "CD Player"; small words after the
    first stay small: "Bird of Prey", "Bearskin or Shako")."""

    def capital(match: re.Match[str]) -> str:
        word = match.group(2) + name[match.end() :].split(" ", 1)[0]
        if match.start() and match.group(1) == " " and word in _SMALL_WORDS:
            return match.group(0)
        return match.group(1) + match.group(2).upper()

    return _WORD_START.sub(capital, name)


def _percent(fraction: float) -> float:
    return round(float(fraction) * 100, 3)


def _named(names: Iterable[str], *, title: bool = True) -> list[dict[str, str]]:
    return [{"Name": display_name(name) if title else name} for name in names]


def _generic_label(
    name: str, confidence: float, hierarchy: LabelHierarchy | None
) -> dict[str, Any]:
    lineage = hierarchy.lineage(name) if hierarchy is not None else None
    return {
        "Name": display_name(lineage.name if lineage else name),
        "Confidence": _percent(confidence),
        "Instances": [],
        "Parents": _named(lineage.parents if lineage else ()),
        "Aliases": _named(lineage.aliases if lineage else ()),
        "Categories": _named(lineage.categories if lineage else (), title=False),
    }


def _trained_label(name: str, confidence: float) -> dict[str, Any]:
    return {
        "Name": name,
        "Confidence": _percent(confidence),
        "Instances": [],
        "Parents": [],
        "Aliases": [],
        "Categories": [],
    }


def labels_of(item: Mapping[str, Any], hierarchy: LabelHierarchy | None) -> list[dict[str, Any]]:
    """DetectLabels' Labels of one CLASSIFIED item, most confident first. The item's own
    label, when a generic label has its name, is that entry at the higher of the two
    confidences (a trained `tool` at 99.4 beside the generic `tool` at 80.7)."""
    generic = item_labels(item)
    found = [_generic_label(name, conf, hierarchy) for name, conf in generic]
    label = str(item.get("label", UNKNOWN_LABEL))
    node = hierarchy.search(label) if hierarchy is not None else None
    own = {label.lower(), node.name.lower() if node is not None else label.lower()}
    confidence = _percent(float(item.get("confidence", 0)))
    shown = False
    for entry, (name, _) in zip(found, generic, strict=True):
        if name.lower() in own:
            entry["Confidence"] = max(float(entry["Confidence"]), confidence)
            shown = True
    if label != UNKNOWN_LABEL and not shown:
        found.append(_trained_label(label, float(item.get("confidence", 0))))
    _parents_at_least_their_children(found)
    return sorted(found, key=lambda entry: -float(entry["Confidence"]))


def _parents_at_least_their_children(found: list[dict[str, Any]]) -> None:
    """Raise each listed parent to its most confident child: a label raised to the item's
    own confidence (a day-0 `dog` at 99.8 above the generic canine's 81.2), or a figure
    stored to more places than the labels' (83.74 beside its parent's 83.7), would else sit
    above its parent. Every ancestor is in each entry's Parents, so one pass does it."""
    by_name = {entry["Name"]: entry for entry in found}
    for entry in found:
        for parent in entry["Parents"]:
            above = by_name.get(parent["Name"])
            if above is not None and float(above["Confidence"]) < float(entry["Confidence"]):
                above["Confidence"] = entry["Confidence"]


def dominant_colors(colours: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """DetectLabels' DominantColor list from an item's `colours` (largest first)."""
    found = []
    for colour in colours:
        red, green, blue = lab_to_rgb([float(value) for value in colour["lab"]])
        found.append(
            {
                "Red": red,
                "Green": green,
                "Blue": blue,
                "HexCode": f"#{red:02X}{green:02X}{blue:02X}",
                "CSSColor": css_color_name((red, green, blue)),
                "SimplifiedColor": str(colour["family"]),
                "PixelPercent": _percent(float(colour["fraction"])),
            }
        )
    return found


def css_color_name(rgb: Sequence[int]) -> str:
    """The CSS named colour (CSS Color Module 4's 148, as Pillow's ImageColor holds them)
    nearest an sRGB colour by CIEDE2000, as DetectLabels' CSSColor names one: "tan" at
    #D2B48C, "darkslategray" for a charcoal. The palette's own names (`--colour`, "hot pink")
    are not all CSS names, so they stay in the results table and tags."""
    names, labs = _css_colours()
    return names[int(np.argmin(delta_e_2000(labs, srgb_to_lab(np.asarray(rgb, np.uint8)))))]


@lru_cache(maxsize=1)
def _css_colours() -> tuple[tuple[str, ...], np.ndarray]:
    names = tuple(sorted(ImageColor.colormap))
    rgbs = np.array([ImageColor.getrgb(name)[:3] for name in names], np.uint8)
    return names, srgb_to_lab(rgbs)


def image_properties(item: Mapping[str, Any]) -> dict[str, Any]:
    """DetectLabels' ImageProperties: Quality and DominantColors, each when the item has it."""
    properties: dict[str, Any] = {}
    quality = item.get(QUALITY_ATTRIBUTE)
    if quality:
        properties["Quality"] = {
            name.capitalize(): float(quality[name])
            for name in ("brightness", "sharpness", "contrast")
            if name in quality
        }
    if item.get("colours"):
        properties["DominantColors"] = dominant_colors(item["colours"])
    return properties


def detect_labels_response(
    item: Mapping[str, Any], hierarchy: LabelHierarchy | None
) -> dict[str, Any]:
    """One item as a DetectLabels response; DetectLabelsRejectedError for a REJECTED one."""
    if item.get("status") == Status.REJECTED.value:
        raise DetectLabelsRejectedError(
            f"{item.get('key')!r} was rejected: {item.get('reason', 'no reason recorded')}"
        )
    response: dict[str, Any] = {
        "Labels": labels_of(item, hierarchy),
        "LabelModelVersion": str(item.get("model_version", "")),
    }
    properties = image_properties(item)
    if properties:
        response["ImageProperties"] = properties
    return response


def image_reference(item: Mapping[str, Any]) -> dict[str, Any]:
    """DetectLabels' own `Image` request parameter naming the item's object: what each line
    of `imgclf results --format detect-labels` adds to say which image it answers."""
    s3_object: dict[str, Any] = {"Bucket": str(item["bucket"]), "Name": str(item["key"])}
    if item.get("version_id"):
        s3_object["Version"] = str(item["version_id"])
    return {"S3Object": s3_object}


def response_lines(
    items: Iterable[Mapping[str, Any]],
    hierarchy: LabelHierarchy | None,
    min_confidence: float | None = None,
) -> list[dict[str, Any]]:
    """One DetectLabels response per CLASSIFIED item, each with its `Image`; REJECTED items
    are skipped (DetectLabels answers none for them). With `min_confidence` (0..1), as
    DetectLabels' MinConfidence, a response lists only the labels at least that confident."""
    lines = []
    for item in items:
        if item.get("status") == Status.REJECTED.value:
            continue
        line = {"Image": image_reference(item), **detect_labels_response(item, hierarchy)}
        if min_confidence is not None:
            floor = _percent(min_confidence)
            line["Labels"] = [e for e in line["Labels"] if float(e["Confidence"]) >= floor]
        lines.append(line)
    return lines


def needs_hierarchy(items: Iterable[Mapping[str, Any]]) -> bool:
    """Whether any item has generic labels (whose Parents come from the hierarchy)."""
    return any(item.get(LABELS_ATTRIBUTE) for item in items)
