"""Waiting for results on moto: an object deleted meanwhile is accounted for, and an upload's
wait does not take the key's earlier delete for its own."""

from __future__ import annotations

from types import SimpleNamespace

from classifier.model import Classification, Prediction
from classifier.results import ObjectFacts, classified_item
from imgclf.accounting import wait_until_accounted
from imgclf.upload import Uploaded

T1, T2, T3 = "2026-12-07T21:00:00.000Z#01", "2026-12-07T21:00:05.000Z#02", "2026-12-07T21:00:09"


def classified(aws: SimpleNamespace, key: str, version: str) -> None:
    best = Prediction("cat", 0.9)
    item = classified_item(
        ObjectFacts("images", key, f"e-{key}", None, 10, T1),
        classification=Classification(best, [best], other=0),
        model_version=version,
        width=1,
        height=1,
        latency_ms=1,
        tags="applied",
    )
    assert aws.results.put(item)


def test_a_reclassify_wait_counts_an_object_deleted_meanwhile(aws: SimpleNamespace) -> None:
    # Given two objects re-enqueued for v2: one reclassified, one deleted before its turn
    classified(aws, "done.jpg", "v2")
    classified(aws, "gone.jpg", "v1")
    assert aws.results.remove("images", "gone.jpg", T2)
    # When the reclassify waits for v2
    state = wait_until_accounted(
        aws.deployment,
        ["done.jpg", "gone.jpg"],
        timeout_seconds=1,
        accept=lambda item: item.get("model_version") == "v2",
    )
    # Then the deleted one is accounted for as deleted (it was waited for until the timeout)
    assert (set(state.items), state.removed, state.missing) == ({"done.jpg"}, {"gone.jpg"}, set())


def test_an_uploads_wait_does_not_take_the_keys_earlier_delete_for_its_own(
    aws: SimpleNamespace,
) -> None:
    # Given a key deleted at T2 (its marker stays a day), uploaded again at T3
    classified(aws, "again.jpg", "v1")
    assert aws.results.remove("images", "again.jpg", T2)
    uploaded = {"again.jpg": Uploaded("e-new", T3)}
    state = wait_until_accounted(
        aws.deployment, ["again.jpg"], timeout_seconds=0.5, uploaded=uploaded
    )
    # Then the upload is still waited for, not taken as deleted
    assert (state.removed, state.missing) == (set(), {"again.jpg"})
    # And a delete after the upload is
    assert aws.results.remove("images", "again.jpg", "2026-12-07T21:00:10.000Z#03")
    state = wait_until_accounted(
        aws.deployment, ["again.jpg"], timeout_seconds=0.5, uploaded=uploaded
    )
    assert (state.removed, state.missing) == ({"again.jpg"}, set())
