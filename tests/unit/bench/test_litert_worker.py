"""bench/litert_worker.py's ids for the generic labeller, which has no labels of its own."""

from __future__ import annotations

import numpy as np

from classifier.artifact import OUTPUT_GENERIC, HierarchyRef, ModelMetadata, OutputSpec
from classifier.imaging import InputSpec
from classifier.model import Decider
from tests.fixtures.bench import load_bench
from tests.fixtures.hierarchy import small_hierarchy

worker = load_bench("litert_worker")


def test_the_generic_labellers_top1_is_its_class_and_decided_its_primary_label() -> None:
    # Given a generic model over the small hierarchy's four classes
    hierarchy = small_hierarchy()
    ref = HierarchyRef.of(hierarchy)
    metadata = ModelMetadata(
        version="g1",
        input=InputSpec(height=8, width=8),
        labels=(),
        output=OutputSpec(OUTPUT_GENERIC, sources=ref.classes),
        hierarchy=ref,
    )
    decider = Decider(metadata, ref.classes, hierarchy)
    # When rows favour golden retriever, tabby cat, and a daisy beside two dogs alike (each
    # dog 0.14, under the default minimum; the daisy 0.62)
    raw = np.log(
        np.array([[0.97, 0.01, 0.01, 0.01], [0.01, 0.01, 0.97, 0.01], [0.14, 0.14, 0.1, 0.62]])
    )
    top1, decided = worker.generic_ids(decider, raw)
    # Then top-1 is ImageNet's class, and decided the most specific label of the most
    # confident branch (the daisy's; the dogs' branch, 0.28, ends at dog)
    assert top1.tolist() == [0, 2, 3]
    names = [node.name for node in hierarchy.labelled]
    assert [names[i] if i >= 0 else None for i in decided] == [
        "golden retriever",
        "tabby cat",
        "daisy",
    ]
    assert decider.classification(raw[2]).second == "dog"
