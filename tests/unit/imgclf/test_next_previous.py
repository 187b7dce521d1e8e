"""What a promotion keeps as the pointer's `previous` (imgclf.models.next_previous), pure."""

from __future__ import annotations

import pytest

from classifier.contracts import ModelPointer
from imgclf.models import LiveModel, next_previous


def pointer(version: str, previous: ModelPointer | None = None) -> ModelPointer:
    return ModelPointer(f"s3://models/models/{version}/model.tar.gz", version, previous)


V1 = pointer("v1")
V2_AFTER_V1 = pointer("v2", previous=V1)


@pytest.mark.parametrize(
    ("live", "version", "expected"),
    [
        # nothing live: no previous
        (LiveModel(None, None, loads=False), "v1", None),
        # the live version loads: it is kept, without its own previous
        (LiveModel(V2_AFTER_V1, {}, loads=True), "v3", pointer("v2")),
        # the live version does not load: its own previous is kept instead
        (LiveModel(V2_AFTER_V1, {}, loads=False), "v3", V1),
        (LiveModel(pointer("v2"), None, loads=False), "v3", None),
        # promoting the live version again keeps its previous, never itself
        (LiveModel(V2_AFTER_V1, {}, loads=True), "v2", V1),
        # rolling back to the previous while the live one does not load: not its own previous
        (LiveModel(V2_AFTER_V1, {}, loads=False), "v1", None),
        # rolling back while the live one loads: the live one becomes previous
        (LiveModel(V2_AFTER_V1, {}, loads=True), "v1", pointer("v2")),
    ],
)
def test_previous_is_the_live_version_only_when_it_loads_and_never_the_version_itself(
    live: LiveModel, version: str, expected: ModelPointer | None
) -> None:
    assert next_previous(live, version) == expected
