"""imgclf: the command line of the image classifier.

Every subcommand takes `--env NAME`: `local` is the embedded environment that
`imgclf local up` runs; any other name is the deployed stack imgclf-<NAME>.
Errors are one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from classifier.contracts import LOCAL_ENV
from gate.champion import DEFAULT_MAX_REGRESSION_PP
from training.train_config import add_cli_arguments as add_training_flags

from .errors import CliError

DEFAULT_ENV_VARIABLE = "IMGCLF_ENV"
DEBUG_VARIABLE = "IMGCLF_DEBUG"
# What --force means wherever it appears (train, model day0/generic/promote/rollback).
FORCE_HELP = "even if its gate failed or it is worse than the live model"
# --timeout of the commands that wait only with --wait, in seconds.
WAIT_TIMEOUTS = {"upload": 300.0, "reclassify": 600.0}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_env(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--env",
        default=default,
        metavar="NAME",
        help="`local` (the embedded environment) or a deployed environment (default: "
        f"${DEFAULT_ENV_VARIABLE} or local)",
    )


def _env_parent() -> _Parser:
    # SUPPRESS: a subcommand's --env must not reset one given before the subcommand.
    parent = _Parser(add_help=False)
    _add_env(parent, argparse.SUPPRESS)
    return parent


def _number(what: str, ok: Callable[[float], bool]) -> Callable[[str], float]:
    """An argparse type: a number `ok` accepts, else a one-line error saying `what` it needs."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    return parse


_percentage_points = _number("0..100 percentage points", lambda value: 0 <= value <= 100)
_seconds = _number("above 0 seconds", lambda value: value > 0)


def _whole(low: int, high: int | None = None, note: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number from `low` (to `high`), else a one-line error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bounds = f"{low}..{high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"{text} is not {bounds}{note}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    env = _env_parent()
    parser = _Parser(prog="imgclf", description=__doc__.splitlines()[0] if __doc__ else None)
    _add_env(parser, os.environ.get(DEFAULT_ENV_VARIABLE, LOCAL_ENV))
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    local = commands.add_parser("local", help="the embedded local environment", parents=[env])
    local_commands = local.add_subparsers(dest="local_command", required=True)
    local_up = local_commands.add_parser(
        "up", help="start it in the foreground (Ctrl-C stops it)", parents=[env]
    )
    local_up.add_argument(
        "--workers", type=_whole(1), help="poller threads (default: max_concurrency)"
    )
    local_up.add_argument(
        "--visibility-timeout",
        type=_whole(0, 43200),  # SQS's limit: 12 hours
        metavar="SECONDS",
        help="queue visibility timeout",
    )
    local_up.add_argument(
        "--no-cached-models",
        dest="cached_models",
        action="store_false",
        help="do not load cached model artifacts from earlier train/demo runs",
    )
    local_up.add_argument("--verbose", action="store_true", help="show the function's logs")
    local_up.add_argument(
        "--tags",
        metavar="LIST",
        help="the imgclf tags the function writes, as cdk.json's `tags` setting: a subset of "
        "label,confidence,model,colours,labels, or none (default: cdk.json's local block)",
    )
    local_up.add_argument(
        "--faults",
        type=Path,
        metavar="FILE",
        help="inject the faults of this JSON plan into the function's AWS calls and the "
        "queue's deliveries (docs/faults.md; off by default)",
    )

    upload = commands.add_parser("upload", help="upload files or folders", parents=[env])
    upload.add_argument("paths", nargs="+", metavar="PATH")
    upload.add_argument("--prefix", default="", help="key prefix in the images bucket")
    upload.add_argument("--tag", action="append", default=[], metavar="NAME=VALUE")
    upload.add_argument("--wait", action="store_true", help="wait until every object is classified")
    upload.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help=f"with --wait: how long to wait (default {WAIT_TIMEOUTS['upload']:g})",
    )

    results = commands.add_parser("results", help="query the results table", parents=[env])
    results.add_argument(
        "--label",
        metavar="WORD",
        help="a label at any level (dog, animal; a name or alias, any case), and every label "
        "under it; or a trained label, or unknown",
    )
    results.add_argument(
        "--colour",
        "--color",
        dest="colour",
        metavar="NAME",
        help="dominant colour: a basic colour (blue) or a palette name (navy, sky blue)",
    )
    results.add_argument("--status", help="CLASSIFIED or REJECTED")
    results.add_argument("--min-confidence", type=float, metavar="0..1")
    results.add_argument("--since", help="a duration (30m, 2h, 7d) or an ISO date/time")
    results.add_argument(
        "--limit",
        type=_whole(0, note=" (0 means all)"),
        default=50,
        help="at most this many (0: all)",
    )
    results.add_argument(
        "--format",
        choices=("table", "json", "csv", "detect-labels"),
        default="table",
        help="detect-labels: one Rekognition DetectLabels response per classified item "
        "(JSON lines, each with its Image)",
    )
    results.add_argument(
        "--file",
        type=Path,
        metavar="RESULTS_JSON",
        help="read the items from a file (a demo run's results.json) instead of a table",
    )

    result = commands.add_parser("result", help="one object's result and tags", parents=[env])
    result.add_argument("key")
    result.add_argument(
        "--format",
        choices=("table", "json", "detect-labels"),
        default="table",
        help="detect-labels: as Rekognition DetectLabels answers",
    )

    labels = commands.add_parser(
        "labels", help="the labels in the results table, with counts", parents=[env]
    )
    labels.add_argument(
        "--tree", metavar="WORD", help="the present labels under WORD, indented, with counts"
    )
    labels.add_argument("--format", choices=("table", "json"), default="table")

    model = commands.add_parser("model", help="model versions", parents=[env])
    model_commands = model.add_subparsers(dest="model_command", required=True)
    model_commands.add_parser("list", help="versions in the models bucket", parents=[env])
    model_show = model_commands.add_parser(
        "show",
        help="one version: gate, metrics, unknown rule, per-label precision/recall/F1",
        parents=[env],
    )
    model_show.add_argument("version")
    model_show.add_argument(
        "--format", choices=("table", "json"), default="table", help="json: its model.json"
    )
    model_day0 = model_commands.add_parser(
        "day0",
        help="build the ImageNet-mapped day-0 model (no training) and upload it",
        parents=[env],
    )
    day0_mapping = model_day0.add_mutually_exclusive_group()
    day0_mapping.add_argument(
        "--mapping", type=Path, help="JSON label -> ImageNet classes (default: Animals-10's)"
    )
    day0_mapping.add_argument(
        "--labels",
        metavar="NAMES",
        help="comma-separated label names to place in ImageNet's hierarchy (car,boat,bird)",
    )
    model_day0.add_argument(
        "--overrides",
        type=Path,
        metavar="FILE",
        help='with --labels: JSON {"label": "wnid" | "node name" | [ImageNet classes]}',
    )
    model_day0.add_argument("--eval-dir", type=Path, help="folder-per-class photos to score it on")
    model_day0.add_argument("--version", help="default: day0-<timestamp>")
    model_day0.add_argument("--promote", action="store_true", help="make it live")
    model_day0.add_argument("--force", action="store_true", help=f"with --promote: {FORCE_HELP}")
    # What promote and rollback share: every check runs; these relax only the named ones.
    promotion = _Parser(add_help=False)
    promotion.add_argument(
        "--force",
        action="store_true",
        help=f"{FORCE_HELP} (never past a file that does not match its digest, a model that "
        "does not load, or a failed probe)",
    )
    promotion.add_argument(
        "--allow-legacy",
        action="store_true",
        help="accept an artifact made before file digests and probes (it must still load)",
    )
    promotion.add_argument(
        "--max-regression-pp",
        type=_percentage_points,
        default=DEFAULT_MAX_REGRESSION_PP,
        metavar="PP",
        help="refuse a version this many percentage points worse than the live model on an "
        f"evaluation set both share (default {DEFAULT_MAX_REGRESSION_PP})",
    )
    model_promote = model_commands.add_parser(
        "promote", help="check a version and make it live", parents=[env, promotion]
    )
    model_promote.add_argument("version")
    model_commands.add_parser(
        "rollback",
        help="make the version live before this one live again (as promote, with its checks)",
        parents=[env, promotion],
    )

    model_generic = model_commands.add_parser(
        "generic",
        help="build the generic labeller (ImageNet and the label hierarchy, no training) "
        "and upload it",
        parents=[env],
    )
    model_generic.add_argument("--version", help="default: generic-<code version>, cached")
    model_generic.add_argument("--promote", action="store_true", help="make it live")
    model_generic.add_argument("--force", action="store_true", help=f"with --promote: {FORCE_HELP}")
    train = commands.add_parser("train", help="train a model and upload it", parents=[env])
    train.add_argument("--cloud", action="store_true", help="start the deployed state machine")
    add_training_flags(train)  # training's own option definitions (no TensorFlow import)
    train.add_argument("--promote", action="store_true", help="make it live when it passes")
    train.add_argument(
        "--force",
        action="store_true",
        # The state machine's gate forces past the champion check only, never a failed gate.
        help=f"with --promote: {FORCE_HELP} (--cloud: worse than the live model only)",
    )

    reclassify = commands.add_parser(
        "reclassify", help="re-enqueue objects classified by another model version", parents=[env]
    )
    reclassify.add_argument("--dry-run", action="store_true")
    reclassify.add_argument("--wait", action="store_true", help="wait until all are updated")
    reclassify.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help=f"with --wait: how long to wait (default {WAIT_TIMEOUTS['reclassify']:g})",
    )

    reindex = commands.add_parser(
        "reindex",
        help="re-write the index shard attributes of items written before them (or under "
        "another INDEX_SHARDS)",
        parents=[env],
    )
    reindex.add_argument("--dry-run", action="store_true", help="only count the stale items")
    reindex.add_argument("--segments", type=int, help="parallel Scan segments (threads)")

    status = commands.add_parser(
        "status",
        help="one screen: live model, backlog, DLQ, counts by label, throughput",
        parents=[env],
    )
    status.add_argument(
        "--since", default="24h", help="count results since (a duration or an ISO date/time)"
    )

    dlq = commands.add_parser("dlq", help="the dead-letter queue", parents=[env])
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_commands.add_parser("list", help="messages in the DLQ", parents=[env])
    dlq_list.add_argument("--format", choices=("table", "json"), default="table")
    dlq_commands.add_parser("redrive", help="move them back to the queue", parents=[env])

    demo = commands.add_parser(
        "demo", help="the whole pipeline locally, with a report", parents=[env]
    )
    # Not --images-per-class: that is `train`'s, the renderings training makes per class.
    demo.add_argument(
        "--uploads-per-class",
        type=_whole(1),
        default=20,
        metavar="N",
        help="unseen renderings uploaded per class (the real photos are uploaded besides)",
    )
    demo.add_argument("--workers", type=_whole(1), help="poller threads (default: max_concurrency)")
    demo.add_argument("--retrain", action="store_true", help="ignore the cached model")
    demo.add_argument("--out", type=Path, help="report folder (default: .imgclf/demo/<time>)")
    demo.add_argument("--timeout", type=_seconds, default=600.0, metavar="SECONDS")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The console script. Returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in WAIT_TIMEOUTS:
        if args.timeout is None:
            args.timeout = WAIT_TIMEOUTS[args.command]
        elif not args.wait:
            parser.error("--timeout applies only with --wait")
    try:
        return int(_dispatch(args) or 0)
    except CliError as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        return _fail("interrupted", code=130)
    except Exception as error:  # the last line of defence: one line, never a traceback
        if os.environ.get(DEBUG_VARIABLE):
            raise
        return _fail(_describe(error))


def _describe(error: Exception) -> str:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if isinstance(error, NoCredentialsError):
        return "no AWS credentials found (configure them, or use --env local)"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        operation = getattr(error, "operation_name", "AWS call")
        return f"{operation} failed: {details.get('Code', '')}: {details.get('Message', '')}"
    if isinstance(error, BotoCoreError):
        return f"AWS: {error}"
    if isinstance(error, OSError):
        return f"{error.strerror or error}: {error.filename}" if error.filename else str(error)
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text} (set {DEBUG_VARIABLE}=1 for the traceback)"


def _fail(message: str, code: int = 1) -> int:
    from .output import stderr, visible

    line = f"imgclf: error: {visible(message)}"
    stderr.print(line, markup=False, highlight=False, soft_wrap=True)
    return code


def _dispatch(args: argparse.Namespace) -> int | None:
    from . import commands

    handler = {
        "local": commands.local,
        "upload": commands.upload,
        "results": commands.results,
        "result": commands.result,
        "labels": commands.labels,
        "model": commands.model,
        "train": commands.train,
        "reclassify": commands.reclassify,
        "reindex": commands.reindex,
        "status": commands.status,
        "dlq": commands.dlq,
        "demo": commands.demo,
    }[args.command]
    value: Any = handler(args)
    return value  # type: ignore[no-any-return]


if __name__ == "__main__":
    sys.exit(main())
