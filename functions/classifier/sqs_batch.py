"""One SQS batch: its records run in key order, and the failed ones go back for a retry.

The function owns this loop rather than subclassing Powertools' BatchProcessor (whose
concurrency hooks are private): the records run through `scheduling.run_in_key_order`
(`concurrency` at once, those of one object in batch order), and the answer is Lambda's
partial batch response (ReportBatchItemFailures), `{"batchItemFailures": [{"itemIdentifier":
<message id>}, ...]}`. An `Exception` fails its record alone, and so does a record the time
check refuses; every failed record is listed, even all of them (the same retry). A
`BaseException` (a crash) leaves the handler, so nothing is acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from .classify import Result
from .events import parse_body
from .scheduling import run_in_key_order


@dataclass(frozen=True)
class HandledBatch:
    """What a batch came to: the results of the records that succeeded, and the failures."""

    results: list[Result]
    failures: list[tuple[str, Exception]]  # (message id, error), in batch order

    def response(self) -> dict[str, list[dict[str, str]]]:
        """Lambda's partial batch response: the failed records, to be received again."""
        return {"batchItemFailures": [{"itemIdentifier": id_} for id_, _ in self.failures]}


def handle_batch(
    records: Sequence[SQSRecord],
    *,
    handle: Callable[[SQSRecord], list[Result]],
    concurrency: int,
    executor: Executor | None,
    before_start: Callable[[], None],
) -> HandledBatch:
    """Run `handle` on every record by `run_in_key_order`'s rules; see the module's doc."""
    outputs: list[list[Result]] = [[] for _ in records]

    def work(index: int) -> None:
        outputs[index] = handle(records[index])

    failed = run_in_key_order(
        range(len(records)),
        keys=lambda index: object_keys(records[index]),
        work=work,
        concurrency=concurrency,
        executor=executor,
        before_start=lambda _: before_start(),
    )
    succeeded = (out for index, out in enumerate(outputs) if index not in failed)
    return HandledBatch(
        results=[result for out in succeeded for result in out],
        failures=[(records[index].message_id, failed[index]) for index in sorted(failed)],
    )


def object_keys(record: SQSRecord) -> Iterable[Hashable]:
    """The objects a record touches: records sharing one run in batch order."""
    try:
        return {(event.bucket, event.key) for event in parse_body(record.body)}
    except Exception:  # unreadable: it fails when handled, on its own
        return ()
