"""One function per subcommand: parse nothing, resolve the environment, call the logic, print."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import TaskID
from rich.table import Table

from classifier.contracts import LOCAL_ENV, REJECTED_PARTITION, Status
from classifier.hierarchy import LabelHierarchy
from gate.champion import COLUMNS, Comparison, evaluations, row_cells

from . import detect_labels, model_show
from . import dlq as dead_letters
from . import labels as generic_labels
from . import models as model_versions
from . import reclassify as reclassifying
from .accounting import Accounting, wait_until_accounted
from .deployment import Deployment, resolve
from .errors import CliError
from .output import cell, plain, print_table, progress, stderr, stdout, table_width
from .result_formats import mapping_text, render_table, to_csv, to_json
from .result_queries import (
    ResultQuery,
    full_items,
    get_result,
    object_tags,
    parse_colour,
    parse_since,
    parse_status,
    read_items,
    registered_values,
)
from .upload import Uploaded, collect, parse_tags, upload_all


def local(args: argparse.Namespace) -> int:
    if args.env != LOCAL_ENV:
        raise CliError(f"`local up` runs the local environment; --env {args.env} is deployed")
    from .local import up

    return up(
        workers=args.workers,
        visibility_timeout=args.visibility_timeout,
        seed=args.cached_models,
        verbose=args.verbose,
        faults_file=args.faults,
        tags=args.tags,
    )


def upload(args: argparse.Namespace) -> int:
    hidden: list[Path] = []
    uploads = collect(args.paths, args.prefix, on_hidden=hidden.append)
    if hidden:
        stderr.print(f"left out {len(hidden)} hidden files (a name starting with '.')")
    tags = parse_tags(args.tag)
    deployment = resolve(args.env)
    with progress() as bar:
        task = bar.add_task(f"uploading to s3://{deployment.images_bucket}", total=len(uploads))
        uploaded = upload_all(
            deployment,
            uploads,
            tags=tags,
            on_done=lambda _: bar.advance(task),
            write_times=args.wait,
        )
    stderr.print(f"uploaded {len(uploads)} files to s3://{deployment.images_bucket}")
    if args.wait:
        state = _wait_with_progress(
            deployment, list(uploaded), "waiting for results", args.timeout, uploaded=uploaded
        )
        if state.items:  # none (all in the DLQ, say): the failure below, not an empty table
            print_table(
                render_table([state.items[k] for k in sorted(state.items)], width=table_width())
            )
        _say_removed(state)
        _fail_unless_done(state, "accounted for", args.timeout)
    return 0


def _fail_unless_done(state: Accounting, done: str, timeout: float) -> None:
    """A wait that ended with objects in the DLQ or not yet `done` is a failure (exit 1)."""
    failures = []
    if state.dead_lettered:
        failures.append(
            f"{len(state.dead_lettered)} in the DLQ ({_some_keys(state.dead_lettered)}): "
            "see `imgclf dlq list`"
        )
    if state.missing:
        failures.append(
            f"{len(state.missing)} objects not {done} after {timeout}s: "
            + _some_keys(state.missing)
        )
    if failures:
        raise CliError("; ".join(failures))


def _say_removed(state: Accounting) -> None:
    if state.removed:
        stderr.print(
            f"{len(state.removed)} deleted meanwhile: {_some_keys(state.removed)}",
            markup=False,
            soft_wrap=True,
        )


def _some_keys(keys: Iterable[str], shown: int = 3) -> str:
    """The first few keys, in order, and how many more."""
    ordered = sorted(keys)
    more = len(ordered) - shown
    return ", ".join(ordered[:shown]) + (f" and {more} more" if more > 0 else "")


def _wait_with_progress(
    deployment: Deployment,
    keys: list[str],
    title: str,
    timeout_seconds: float,
    accept: Callable[[dict[str, Any]], bool] = lambda item: True,
    uploaded: Mapping[str, Uploaded] | None = None,
) -> Accounting:
    """Wait until every key is in the table (or the DLQ), with a progress bar."""
    with progress() as bar:
        task = bar.add_task(title, total=len(keys))
        return wait_until_accounted(
            deployment,
            keys,
            timeout_seconds=timeout_seconds,
            accept=accept,
            uploaded=uploaded,
            on_progress=lambda done: bar.update(task, completed=done),
        )


def results(args: argparse.Namespace) -> int:
    status = parse_status(args.status) if args.status is not None else None
    since = parse_since(args.since) if args.since is not None else None
    colour = parse_colour(args.colour) if args.colour is not None else None
    if args.min_confidence is not None and not 0 <= args.min_confidence <= 1:
        raise CliError("--min-confidence must be between 0 and 1")
    if args.label is not None and not args.label.strip():
        raise CliError("--label needs a word (a label at any level, e.g. dog or animal)")
    if args.format == "detect-labels":
        # DetectLabels answers nothing for an image it cannot read: only CLASSIFIED items,
        # selected before --limit counts them (3 rejects among the newest 5 gave 2 lines)
        if status == Status.REJECTED:
            raise CliError("--format detect-labels has no response for REJECTED items")
        status = Status.CLASSIFIED
    query = ResultQuery(None, colour, status, args.min_confidence, since, args.limit or None)
    selection = None
    if args.file is not None:
        read = read_items(args.file)
        if args.label:
            present = (str(i["label"]) for i in read if "label" in i)
            query, selection = generic_labels.with_label(query, args.label, present)
        items, where = query.of_items(read), str(args.file)
    else:
        deployment = resolve(args.env)
        if args.label:
            query, selection = generic_labels.with_label(
                query,
                args.label,
                registered_values(deployment),
                live=lambda: model_versions.live_labels(deployment),
            )
        items, where = query.run(deployment), deployment.env
        if args.format in ("json", "detect-labels"):
            items = full_items(deployment, items)
    if args.format == "json":
        stdout.out(to_json(items), highlight=False)
    elif args.format == "detect-labels":
        lines = detect_labels.response_lines(items, _hierarchy_for(items), args.min_confidence)
        for line in lines:
            stdout.out(json.dumps(line, sort_keys=True), highlight=False)
    elif args.format == "csv":
        sys.stdout.write(to_csv(items))  # as it is: rich would expand a key's tab
    else:
        title = f"{len(items)} results in {where}"
        if selection is not None and selection.meaning:  # which sense of the word was asked
            title += f" for {selection.word.strip()!r}, {selection.meaning}"
        print_table(render_table(items, title=title, width=table_width()))
    return 0


def _hierarchy_for(items: Iterable[Mapping[str, Any]]) -> LabelHierarchy | None:
    """The hierarchy when an item has generic labels (their Parents come from it)."""
    return generic_labels.hierarchy() if detect_labels.needs_hierarchy(items) else None


def result(args: argparse.Namespace) -> int:
    deployment = resolve(args.env)
    item = get_result(deployment, args.key)
    if item is None:
        raise CliError(f"no result for {args.key!r} in environment {deployment.env!r}")
    if args.format == "detect-labels":
        try:
            response = detect_labels.detect_labels_response(item, _hierarchy_for([item]))
        except detect_labels.DetectLabelsRejectedError as error:
            raise CliError(str(error)) from None
        stdout.out(json.dumps(response, indent=2, sort_keys=True), highlight=False)
        return 0
    tags = object_tags(deployment, args.key)
    if args.format == "json":
        stdout.out(json.dumps({**plain(item), "object_tags": tags}, indent=2, sort_keys=True))
        return 0
    table = Table(title=cell(args.key), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name in sorted(item):
        table.add_row(name, cell(field_text(name, plain(item[name]))))
    shown_tags = ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "-"
    table.add_row("object tags", cell(shown_tags))
    stdout.print(table)
    return 0


def field_text(name: str, value: Any) -> str:
    """One item field as `imgclf result`'s table shows it: lists and maps as readable text."""
    if name == "top_k":
        return ", ".join(f"{entry['label']} {entry['confidence']:.3f}" for entry in value)
    if name == "colours":
        return ", ".join(
            f"{entry['name']} {entry['fraction']:.3f} (Lab {' '.join(map(str, entry['lab']))})"
            for entry in value
        )
    if isinstance(value, Mapping):
        return mapping_text(value)
    return str(value)


def labels(args: argparse.Namespace) -> int:
    if args.tree is not None and not args.tree.strip():
        raise CliError("--tree needs a word (a label at any level, e.g. dog or animal)")
    deployment = resolve(args.env)
    values = [v for v in registered_values(deployment) if v != REJECTED_PARTITION]
    census = generic_labels.count_values(deployment, values)
    found, why = generic_labels.optional_hierarchy()
    if args.tree:
        tree = generic_labels.label_tree(args.tree, census.entries, found, why, census.pairs)
        if args.format == "json":
            stdout.out(json.dumps(generic_labels.tree_json(tree), indent=2), highlight=False)
        else:
            for line in generic_labels.tree_lines(tree):
                stdout.out(line, highlight=False)
        return 0
    if why is not None:
        stderr.print(f"imgclf: {why}; counting label values only", markup=False)
    rows = generic_labels.label_counts(census.entries, found, census.pairs)
    if args.format == "json":
        stdout.out(generic_labels.counts_json(rows), highlight=False)
    else:
        print_table(generic_labels.counts_table(rows, f"{len(rows)} labels in {deployment.env}"))
    return 0


def model(args: argparse.Namespace) -> int:
    if args.model_command == "day0":
        from .model_day0 import day0_command

        return day0_command(args)
    if args.model_command == "generic":
        from .model_generic import generic_command

        return generic_command(args)
    deployment = resolve(args.env)
    if args.model_command in ("promote", "rollback"):
        return _promote(args, deployment)
    if args.model_command == "show":
        metadata = model_show.read_model_json(deployment, args.version)
        stdout.out(model_show.render(metadata, args.format), highlight=False)
        return 0
    live = model_versions.live_pointer(deployment)
    versions = model_versions.list_versions(deployment)
    table = Table(title=f"models in {deployment.env}")
    columns = ("live", "version", "created", "arch", "int8 acc", "evaluations", "gate", "size")
    for column in columns:
        table.add_column(column)
    for version in versions:
        metadata = version.metadata or {}
        accuracy = version.int8_accuracy
        per_set = ", ".join(
            f"{name} {evaluation.accuracy:.1%}"
            for name, evaluation in sorted(evaluations(metadata).items())
        )
        table.add_row(
            "*" if live and live.version == version.version else "",
            version.version,
            str(metadata.get("created_at", version.last_modified)),
            str(metadata.get("architecture", "?")),
            f"{accuracy:.3f}" if accuracy is not None else "-",
            per_set or "-",
            version.gate,
            f"{version.size / 1024:.0f} KiB",
        )
    stdout.print(table)
    if not versions:
        stderr.print("no model versions yet: `imgclf train` makes one")
    elif live is None:
        stderr.print("no model is promoted: `imgclf model promote VERSION`")
    return 0


def _promote(args: argparse.Namespace, deployment: Deployment) -> int:
    """`model promote VERSION` and `model rollback` (the live pointer's previous version)."""
    version = args.version if args.model_command == "promote" else None
    if version is None:
        promotion = model_versions.rollback(
            deployment,
            force=args.force,
            allow_legacy=args.allow_legacy,
            max_regression_pp=args.max_regression_pp,
        )
    else:
        promotion = model_versions.promote(
            deployment,
            version,
            force=args.force,
            allow_legacy=args.allow_legacy,
            max_regression_pp=args.max_regression_pp,
        )
    if promotion.comparison is not None:
        _print_comparison(promotion.comparison)
    pointer = promotion.pointer
    previous = f"; previous {pointer.previous.version}" if pointer.previous else ""
    stdout.print(
        f"model {pointer.version} is live in {deployment.env} ({pointer.uri}){previous}",
        markup=False,
    )
    return 0


def _print_comparison(comparison: Comparison) -> None:
    """The candidate against the model it replaces, set by set, as `gate.champion` sees it."""
    if comparison.rows:
        table = Table(title=f"{comparison.candidate_version} vs live {comparison.live_version}")
        for column in COLUMNS:
            table.add_column(column)
        for row in comparison.rows:
            table.add_row(*row_cells(row))
        stdout.print(table)
    stdout.print(comparison.summary)


def train(args: argparse.Namespace) -> int:
    from .trainer import train_command

    return train_command(args)


def reclassify(args: argparse.Namespace) -> int:
    deployment = resolve(args.env)
    live, items = reclassifying.plan(deployment)
    if not items:
        stdout.print(f"every result already has model {live}")
        return 0
    if args.dry_run:
        stdout.print(f"{len(items)} results have another model version than {live}")
        return 0
    with progress() as bar:
        task = bar.add_task(f"re-enqueueing for {live}", total=len(items))
        sent = reclassifying.enqueue(
            deployment, items, version=live, on_sent=lambda n: bar.advance(task, n)
        )
    stdout.print(f"re-enqueued {sent} objects for model {live}")
    if args.wait:
        state = _wait_with_progress(
            deployment,
            [str(item["key"]) for item in items],
            "waiting for the new results",
            args.timeout,
            accept=lambda item: item.get("model_version") == live,
        )
        _say_removed(state)
        _fail_unless_done(state, "updated", args.timeout)
    return 0


def reindex(args: argparse.Namespace) -> int:
    from .reindex import MAX_SEGMENTS, SCAN_SEGMENTS
    from .reindex import reindex as reindex_items

    segments = SCAN_SEGMENTS if args.segments is None else args.segments
    if not 1 <= segments <= MAX_SEGMENTS:
        raise CliError(f"--segments must be 1..{MAX_SEGMENTS}")
    deployment = resolve(args.env)
    with progress() as bar:
        task = bar.add_task("scanning the results table", total=None)
        counted = reindex_items(
            deployment,
            dry_run=args.dry_run,
            segments=segments,
            on_progress=lambda count: bar.advance(task, count.scanned),
        )
    verb = "would rewrite" if args.dry_run else "rewrote"
    stdout.print(
        f"scanned {counted.scanned} results; {verb} the index attributes of "
        f"{counted.rewritten} for {deployment.index_shards} shards"
        + (f"; {counted.changed} changed meanwhile (already current)" if counted.changed else "")
        + f"; index values seen: {', '.join(sorted(counted.values)) or 'none'}"
    )
    return 0


def status(args: argparse.Namespace) -> int:
    from datetime import datetime

    from .status import gather, render

    since = datetime.fromisoformat(parse_since(args.since).replace("Z", "+00:00"))
    for line in render(gather(resolve(args.env), since=since)):
        stdout.print(line, highlight=False, markup=False)
    return 0


def dlq(args: argparse.Namespace) -> int:
    deployment = resolve(args.env)
    if args.dlq_command == "redrive":
        with progress() as bar:
            tasks: list[TaskID] = []  # added at the first report, which knows the total

            def moved(done: int, total: int) -> None:
                if not tasks:
                    tasks.append(bar.add_task("moving DLQ messages back to the queue"))
                bar.update(tasks[0], completed=done, total=total)

            redriven = dead_letters.redrive(deployment, on_moved=moved)
        if redriven.moved == redriven.left == 0:
            stdout.print("the DLQ is empty: nothing to move")
            return 0
        stdout.print(f"moved {redriven.moved} messages from the DLQ back to the queue")
        if redriven.left:
            raise CliError(
                f"{redriven.left} messages are still in the DLQ, held by another reader (a "
                "`dlq list`, an `upload --wait`): run `imgclf dlq redrive` again"
            )
        return 0
    letters = dead_letters.list_dead_letters(deployment)
    if args.format == "json":
        stdout.out(
            json.dumps(
                [
                    {
                        "message_id": letter.message_id,
                        "receive_count": letter.receive_count,
                        "sent_at": _time(letter.sent_timestamp_ms),
                        "objects": [{"bucket": b, "key": k} for b, k in letter.objects],
                        "body": letter.body,
                    }
                    for letter in letters
                ],
                indent=2,
            )
        )
        return 0
    table = Table(title=f"{len(letters)} messages in the DLQ of {deployment.env}")
    for column in ("message id", "receives", "sent", "objects / body"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(
            letter.message_id,
            str(letter.receive_count),
            _time(letter.sent_timestamp_ms),
            cell(", ".join(letter.keys) or letter.body[:120]),
        )
    stdout.print(table)
    return 0


def _time(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).isoformat(timespec="seconds")


def demo(args: argparse.Namespace) -> int:
    if args.env != LOCAL_ENV:
        raise CliError("the demo runs on the embedded environment only (--env local)")
    from .demo import run_demo

    return run_demo(
        uploads_per_class=args.uploads_per_class,
        workers=args.workers,
        retrain=args.retrain,
        out=args.out,
        timeout_seconds=args.timeout,
    )
