"""What one image costs the results table in write units, per index projection.

    .venv/bin/python bench/index_costs.py

Items are built by the function's own builders (classifier.results) from a 12 MP photo-like
JPEG through classifier.imaging and the dominant-colour step: a CLASSIFIED item with the
default top-3 and three dominant colours; a generic one (the generic labeller's: no top-k,
the `labels` map of a golden retriever with its tennis ball under the built-in hierarchy,
training/labels/hierarchy.json, at the function's default GENERIC_MIN_CONFIDENCE and
MAX_LABELS, so the most labels an item holds, its `second_label` and its `quality`); and a
REJECTED one, under a CDK-style
bucket name and keys of 40 to 400 bytes. Sizes follow DynamoDB's documented rules
(infra.table_costs). For each projection of the GSIs in contracts.RESULTS_INDEXES (ALL, the
INCLUDE list of classifier.contracts, and KEYS_ONLY) it prints the entry sizes, the write
units of a first write, of a re-write under a new classified_at (an index key: a delete and
a put in every index), of a duplicate that only advances event_order, and the index storage
per 1M classified images. Prints figures only.
"""

from __future__ import annotations

import io
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from classifier.colours import dominant_colours
from classifier.contracts import RESULTS_INDEXES, ShardedIndex
from classifier.hierarchy import GenericLabel, LabelHierarchy, LabelSettings
from classifier.imaging import ImageLimits, InputSpec, prepare_image
from classifier.model import Classification, Prediction
from classifier.quality import image_quality
from classifier.results import (
    ORDER_ATTRIBUTE,
    ObjectFacts,
    classified_item,
    rejected_item,
)
from infra.table_costs import INDEX_ENTRY_OVERHEAD_BYTES, index_entry, item_size, write_units

BUCKET = "imgclf-prod-imagesbucket3e9f5a2c-1x2y3z4w5v6u"  # what CDK names a bucket
SHARDS = 8  # prod's INDEX_SHARDS
KEY_LENGTHS = (40, 100, 200, 400)
HIERARCHY = Path(__file__).resolve().parents[1] / "training" / "labels" / "hierarchy.json"
# A dog with its ball: ImageNet's golden retriever, labrador and cocker spaniel, a tennis ball,
# the rest spread over the other 996 classes. Two branches, so the most labels an item holds
# and a second label (an entry in by_second_label too).
DOG_CLASSES = {"n02099601": 0.6231, "n02099712": 0.0912, "n02102318": 0.0121, "n04409515": 0.25}


@cache
def hierarchy() -> LabelHierarchy:
    return LabelHierarchy.from_json(HIERARCHY.read_bytes())


@cache
def dog_labels() -> tuple[GenericLabel, ...]:
    """The generic labels of DOG_CLASSES: every level from golden retriever and from tennis
    ball up, at most MAX_LABELS (the function's defaults)."""
    classes = list(hierarchy().class_ids)
    rest = (1 - sum(DOG_CLASSES.values())) / (len(classes) - len(DOG_CLASSES))
    probabilities = np.full(len(classes), rest)
    for wnid, probability in DOG_CLASSES.items():
        probabilities[classes.index(wnid)] = probability
    settings = LabelSettings()
    return tuple(
        hierarchy().labels(
            probabilities, settings.min_confidence, settings.max_labels, settings.min_evidence
        )
    )


@cache
def photo_jpeg() -> bytes:
    """A 4032 x 3024 JPEG with a sky, a lawn and a brown subject, with sensor-like noise."""
    rng = np.random.default_rng(7)
    height, width = 3024, 4032
    image = np.empty((height, width, 3), np.float32)
    image[: height // 2] = (110, 160, 225)
    image[height // 2 :] = (70, 140, 60)
    image[height // 3 : height * 5 // 6, width // 3 : width * 2 // 3] = (150, 100, 50)
    image += rng.normal(0, 12, image.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=90)
    return out.getvalue()


def items(key: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    data = photo_jpeg()
    prepared = prepare_image(data, InputSpec(224, 224), ImageLimits())
    facts = ObjectFacts(
        BUCKET,
        key,
        '"9e107d9d372bb6826bd81d3542a419d6"',
        "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        len(data),
        "2026-06-12T15:30:14.123Z/0055B8A1D3C2E4F6AA",
    )
    top = [Prediction("golden_retriever", 0.8731), Prediction("labrador", 0.0912)]
    top.append(Prediction("cocker_spaniel", 0.0121))
    classified = classified_item(
        facts,
        classification=Classification(best=top[0], top_k=top, other=0.02),
        model_version="prod-2026-06-01",
        width=prepared.width,
        height=prepared.height,
        latency_ms=41.3,
        tags="applied",
        colours=dominant_colours(prepared.thumbnail),
        index_shards=SHARDS,
    )
    labels = dog_labels()
    branches = hierarchy().branches(labels)
    primary, second = branches[0], hierarchy().second_thing(branches)
    assert second is not None  # the tennis ball: another kind of thing than the dog
    generic = classified_item(
        facts,
        classification=Classification(
            Prediction(primary.name, primary.confidence), [], 0.0, labels, second.name
        ),
        model_version="generic-184c6b9abc",
        width=prepared.width,
        height=prepared.height,
        latency_ms=41.3,
        tags="applied",
        colours=dominant_colours(prepared.thumbnail),
        quality=image_quality(prepared.array),
        index_shards=SHARDS,
    )
    rejected = rejected_item(
        facts,
        reason="not a recognised image (allowed: JPEG, PNG, WEBP, GIF, BMP)",
        model_version="prod-2026-06-01",
        latency_ms=3.2,
        index_shards=SHARDS,
    )
    return classified, generic, rejected


def projections(index: ShardedIndex) -> dict[str, ShardedIndex]:
    every = ("__all__",)
    return {
        "ALL": replace(index, projection=every),
        "INCLUDE": index,
        "KEYS_ONLY": replace(index, projection=()),
    }


def entry(item: dict[str, Any], index: ShardedIndex) -> dict[str, Any] | None:
    if index.projection == ("__all__",):
        found = index_entry(item, replace(index, projection=()))
        return None if found is None else dict(item)
    return index_entry(item, index)


def costs(item: dict[str, Any], projection: str) -> dict[str, int]:
    entries = [entry(item, projections(index)[projection]) for index in RESULTS_INDEXES.values()]
    present = [e for e in entries if e is not None]
    sizes = [item_size(e) for e in present]
    table = write_units(item_size(item))
    advanced = [size for e, size in zip(present, sizes, strict=True) if ORDER_ATTRIBUTE in e]
    return {
        "indexes": len(present),
        "entry_max": max(sizes),
        "insert": table + sum(write_units(s) for s in sizes),
        "rewrite": table + 2 * sum(write_units(s) for s in sizes),
        "advance": table + sum(write_units(size) for size in advanced),
        "storage": sum(s + INDEX_ENTRY_OVERHEAD_BYTES for s in sizes),
    }


def main() -> None:
    print(f"results-table write units per image, {SHARDS} shards, bucket {len(BUCKET)} bytes")
    for length in KEY_LENGTHS:
        key = ("photos/2026/06/" + "x" * length)[: length - 4] + ".jpg"
        classified, generic, rejected = items(key)
        for name, item in (
            ("classified", classified),
            ("generic", generic),
            ("rejected", rejected),
        ):
            size = item_size(item)
            print(f"\nkey {len(key)} B, {name} item {size} B ({write_units(size)} WU)")
            if length == KEY_LENGTHS[0]:
                sizes = {name: item_size({name: value}) for name, value in item.items()}
                largest = sorted(sizes, key=lambda name: -sizes[name])[:6]
                print("  largest: " + ", ".join(f"{name} {sizes[name]} B" for name in largest))
            for projection in ("ALL", "INCLUDE", "KEYS_ONLY"):
                c = costs(item, projection)
                print(
                    f"  {projection:9} {c['indexes']} index entries, largest {c['entry_max']:4} B;"
                    f" WU: first write {c['insert']}, re-write {c['rewrite']},"
                    f" duplicate (advance) {c['advance']};"
                    f" index storage {c['storage'] * 1e6 / 1e9:.2f} GB per 1M"
                )


if __name__ == "__main__":
    main()
