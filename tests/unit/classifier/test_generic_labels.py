"""Generic labels beside a model's own: one inference, the item, the tags, the artifact."""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from classifier.artifact import (
    OUTPUT_GENERIC,
    OUTPUT_GROUPED_LOGITS,
    ArtifactError,
    HierarchyRef,
    ModelMetadata,
    OutputSpec,
    UnknownRule,
)
from classifier.artifact_files import (
    pack_artifact,
    read_hierarchy,
    read_metadata,
    unpack_artifact,
    write_artifact_dir,
)
from classifier.contracts import TAG_LABELS, UNKNOWN_LABEL, tag_value_problem
from classifier.hierarchy import LabelHierarchy, LabelSettings
from classifier.imaging import InputSpec
from classifier.model import Classification, Decider, ModelUnavailableError
from classifier.quality import image_quality
from classifier.results import (
    ObjectFacts,
    classified_item,
    item_labels,
    labels_tag_value,
    tags_of_item,
)
from tests.unit.classifier.test_hierarchy import small_hierarchy_dict

SPEC = InputSpec(height=8, width=8)


@pytest.fixture
def hierarchy() -> LabelHierarchy:
    return LabelHierarchy.from_dict(small_hierarchy_dict())


def grouped(hierarchy: LabelHierarchy) -> ModelMetadata:
    """A day-0-like model: labels dog and cat over the six source classes."""
    return ModelMetadata(
        version="day0-test",
        input=SPEC,
        labels=("cat", "dog"),
        output=OutputSpec(OUTPUT_GROUPED_LOGITS, ((2,), (0, 1))),
        hierarchy=HierarchyRef.of(hierarchy),
    )


def generic(hierarchy: LabelHierarchy) -> ModelMetadata:
    return ModelMetadata(
        version="generic-test",
        input=SPEC,
        labels=(),
        output=OutputSpec(OUTPUT_GENERIC, sources=6),
        hierarchy=HierarchyRef.of(hierarchy),
    )


def logits(*probabilities: float) -> np.ndarray:
    return np.log(np.clip(np.asarray(probabilities, np.float64), 1e-9, 1.0))


def test_a_model_with_trained_labels_keeps_its_label_and_adds_generic_ones(
    hierarchy: LabelHierarchy,
) -> None:
    decider = Decider(grouped(hierarchy), 6, hierarchy)
    result = decider.classification(logits(0.6, 0.2, 0.02, 0.12, 0.01, 0.01), 2)
    assert result.best.label == "dog"  # the trained label, exactly as without a hierarchy
    assert result.second is None  # its label finds it
    names = [label.name for label in result.generic]
    assert names[:2] == ["dog", "animal"] or names[:2] == ["animal", "dog"]
    assert "coffee mug" not in names  # 0.125 < the default minimum
    low = decider.classification(logits(0.6, 0.2, 0.02, 0.12, 0.01, 0.01), 2, LabelSettings(0.1, 8))
    assert {"coffee mug", "cup", "container"} <= {label.name for label in low.generic}


def test_an_image_none_of_the_labels_is_indexed_by_what_the_generic_labels_say(
    hierarchy: LabelHierarchy,
) -> None:
    # Given a model of cats and dogs that calls anything else "unknown"
    metadata = replace(grouped(hierarchy), unknown=UnknownRule(max_other=0.5))
    decider = Decider(metadata, 6, hierarchy)
    # When it sees a sports car
    result = decider.classification(logits(0.02, 0.02, 0.01, 0.01, 0.04, 0.9))
    # Then its label is unknown, and its second label what it is, so `--label car` finds it
    assert result.best.label == UNKNOWN_LABEL and result.second == "sports car"
    item = generic_item(result)
    assert item["label"] == UNKNOWN_LABEL and item["second_label"] == "sports car"
    assert item["second_label_shard"].startswith("sports car#")
    # And a cat keeps its label alone: one index entry
    cat = decider.classification(logits(0.01, 0.01, 0.95, 0.01, 0.01, 0.01))
    assert cat.best.label == "cat" and cat.second is None
    # A model without a hierarchy has no generic labels, so no second label either
    plain = Decider(replace(metadata, hierarchy=None), 6, None)
    bare = plain.classification(logits(0.02, 0.02, 0.01, 0.01, 0.04, 0.9))
    assert bare.best.label == UNKNOWN_LABEL and bare.second is None


def test_a_generic_model_keeps_a_second_thing_as_its_second_label(
    hierarchy: LabelHierarchy,
) -> None:
    # A cat beside a mug: the mass splits, and each thing reaches the default minimum
    decider = Decider(generic(hierarchy), 6, hierarchy)
    result = decider.classification(logits(0.02, 0.02, 0.55, 0.38, 0.02, 0.01))
    assert result.best.label == "tabby"
    assert result.second == "coffee mug"  # another kind of thing's most specific label
    item = generic_item(result)
    assert item["label"] == "tabby" and item["second_label"] == "coffee mug"
    assert item["second_label_shard"].startswith("coffee mug#")
    # One thing alone has no second label, and its item no second index entry
    alone = decider.classification(logits(0.01, 0.01, 0.95, 0.01, 0.01, 0.01))
    assert alone.best.label == "tabby" and alone.second is None


def test_a_generic_model_labels_with_its_most_specific_label(hierarchy: LabelHierarchy) -> None:
    decider = Decider(generic(hierarchy), 6, hierarchy)
    result = decider.classification(logits(0.05, 0.02, 0.01, 0.01, 0.01, 0.9))
    assert result.best.label == "sports car"
    assert result.top_k == []
    assert {label.name for label in result.generic} == {"sports car", "car", "vehicle"}


def test_a_generic_model_says_unknown_when_nothing_reaches_the_minimum(
    hierarchy: LabelHierarchy,
) -> None:
    decider = Decider(generic(hierarchy), 6, hierarchy)
    result = decider.classification(logits(0.2, 0.0, 0.2, 0.2, 0.2, 0.2), 3, LabelSettings(0.9))
    assert result.best.label == UNKNOWN_LABEL
    assert result.generic == ()


def test_a_hierarchy_that_does_not_fit_the_outputs_is_refused_at_load(
    hierarchy: LabelHierarchy,
) -> None:
    with pytest.raises(ModelUnavailableError, match="does not fit"):
        Decider(grouped(hierarchy), 1000, hierarchy)
    with pytest.raises(ModelUnavailableError, match="no hierarchy"):
        Decider(generic(hierarchy), 6, None)


def facts() -> ObjectFacts:
    return ObjectFacts("bucket", "photos/cat-and-mug.jpg", '"e"', None, 1000, "0001")


def generic_item(result: Classification, **extra: Any) -> dict[str, Any]:
    """The item the function writes for one of the generic test model's classifications."""
    return classified_item(
        facts(),
        classification=result,
        model_version="generic-test",
        width=8,
        height=8,
        latency_ms=1.0,
        tags="applied",
        **extra,
    )


def test_the_item_stores_names_and_confidences_only(hierarchy: LabelHierarchy) -> None:
    decider = Decider(generic(hierarchy), 6, hierarchy)
    result = decider.classification(
        logits(0.01, 0.01, 0.55, 0.41, 0.01, 0.01), 3, LabelSettings(0.35)
    )
    array = np.full((8, 8, 3), 128, np.uint8)
    item = generic_item(result, quality=image_quality(array))
    assert item["label"] == "tabby"
    assert item["labels"]["coffee mug"] == Decimal("0.41")
    assert "top_k" not in item  # a generic model has no labels of its own
    assert item["quality"] == {"brightness": 50, "sharpness": 0, "contrast": 0}
    assert item_labels(item)[0][1] >= item_labels(item)[-1][1]
    # nothing derivable is stored: no parents, aliases or categories
    assert set(item) & {"parents", "aliases", "categories"} == set()
    assert len(json.dumps(item, default=str)) < 700


def test_the_labels_tag_fits_s3s_value_rules() -> None:
    value = labels_tag_value(["kite (bird of prey)", "potter's wheel", "dog", "x" * 300])
    assert value == "kite bird of prey / potter s wheel / dog"
    assert tag_value_problem(value) is None
    many = labels_tag_value([f"label number {i}" for i in range(40)])
    assert len(many) <= 256 and tag_value_problem(many) is None


def test_the_labels_tag_is_written_only_when_asked(hierarchy: LabelHierarchy) -> None:
    item = {
        "status": "CLASSIFIED",
        "tags": "applied",
        "label": "tabby",
        "confidence": Decimal("0.55"),
        "model_version": "generic-test",
        "labels": {"tabby": Decimal("0.55"), "animal": Decimal("0.57")},
    }
    assert TAG_LABELS not in (tags_of_item(item) or {})
    assert (tags_of_item(item, {"label", "labels"}) or {})[TAG_LABELS] == "animal / tabby"


def hierarchy_in_tarball(data: bytes) -> LabelHierarchy | None:
    """The artifact's hierarchy as the function and promotion read it: unpacked, checked
    against its model.json."""
    with tempfile.TemporaryDirectory() as scratch:
        directory = unpack_artifact(data, Path(scratch))
        return read_hierarchy(directory, read_metadata(directory))


def artifact(tmp_path: Path, metadata: ModelMetadata, hierarchy: LabelHierarchy | None) -> Path:
    directory = write_artifact_dir(tmp_path / "model", b"not-a-model", metadata, hierarchy)
    return pack_artifact(directory, tmp_path / "model.tar.gz")


def retar(tarball: Path, change: dict[str, Any]) -> bytes:
    """The tarball with some members replaced (None: removed)."""
    out = io.BytesIO()
    with tarfile.open(tarball) as source, tarfile.open(fileobj=out, mode="w:gz") as target:
        for member in source.getmembers():
            name = Path(member.name).name
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            if name in change:
                if change[name] is None:
                    continue
                data = json.dumps(change[name]).encode()
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            target.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_the_hierarchy_travels_in_the_artifact(tmp_path: Path, hierarchy: LabelHierarchy) -> None:
    tarball = artifact(tmp_path, generic(hierarchy), hierarchy)
    assert hierarchy_in_tarball(tarball.read_bytes()).version == "test-1"  # type: ignore[union-attr]
    assert read_hierarchy(tmp_path / "model", generic(hierarchy)) is not None


def test_a_missing_or_mismatched_hierarchy_is_an_artifact_error(
    tmp_path: Path, hierarchy: LabelHierarchy
) -> None:
    tarball = artifact(tmp_path, generic(hierarchy), hierarchy)
    with pytest.raises(ArtifactError, match="artifact has no hierarchy.json"):
        hierarchy_in_tarball(retar(tarball, {"hierarchy.json": None}))
    other = small_hierarchy_dict() | {"version": "test-2"}
    with pytest.raises(ArtifactError, match="version test-2 but model.json names test-1"):
        hierarchy_in_tarball(retar(tarball, {"hierarchy.json": other}))
    fewer = small_hierarchy_dict()
    fewer["classes"] = fewer["classes"][:5]
    with pytest.raises(ArtifactError, match="covers 5 classes but the model outputs 6"):
        hierarchy_in_tarball(retar(tarball, {"hierarchy.json": fewer}))
    with pytest.raises(ArtifactError, match="disagree"):
        write_artifact_dir(tmp_path / "x", b"", grouped(hierarchy), None)


def test_a_generic_model_json_must_name_its_hierarchy(hierarchy: LabelHierarchy) -> None:
    with pytest.raises(ArtifactError, match="needs model.json `hierarchy`"):
        replace(generic(hierarchy), hierarchy=None)
    with pytest.raises(ArtifactError, match="covers 6 classes but the model has 1000"):
        replace(generic(hierarchy), output=OutputSpec(OUTPUT_GENERIC, sources=1000))
