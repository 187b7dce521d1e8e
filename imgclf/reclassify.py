"""Re-enqueue the objects whose recorded model version is not the live one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from classifier.contracts import Status, reclassify_message

from .deployment import Deployment
from .models import require_live_pointer
from .result_queries import query_results

BATCH = 10


def stale_items(deployment: Deployment, live_version: str) -> list[dict[str, Any]]:
    """CLASSIFIED items recorded with another model version (every registered label on by_label).

    REJECTED items are left alone, as the state machine's reclassify does: their reasons
    (not an image, too large, ...) do not depend on the model.
    """
    items = query_results(deployment, status=Status.CLASSIFIED)
    return [item for item in items if item.get("model_version") != live_version]


def enqueue(
    deployment: Deployment,
    items: list[dict[str, Any]],
    *,
    version: str,
    on_sent: Callable[[int], None] | None = None,
) -> int:
    """Send one reclassify message per item for `version`, ten per SendMessageBatch."""
    sqs = deployment.client("sqs")
    sent = 0
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        response = sqs.send_message_batch(
            QueueUrl=deployment.queue_url,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": reclassify_message(
                        str(item["bucket"]), str(item["key"]), version
                    ),
                }
                for i, item in enumerate(chunk)
            ],
        )
        count = len(response.get("Successful", []))
        sent += count
        if on_sent is not None:
            on_sent(count)
    return sent


def plan(deployment: Deployment) -> tuple[str, list[dict[str, Any]]]:
    """The live version and the items to re-enqueue."""
    live = require_live_pointer(deployment).version
    return live, stale_items(deployment, live)
