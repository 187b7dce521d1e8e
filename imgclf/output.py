"""Consoles and progress bars: data on stdout, progress and messages on stderr."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from .errors import CliError

# Piped output gets room for the results table rather than rich's 80-column default.
stdout = Console(width=None if sys.stdout.isatty() else 160)
stderr = Console(stderr=True)


def progress(*, transient: bool = False) -> Progress:
    """A progress bar on stderr, so that stdout stays clean for data."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=transient,
    )


# C0 and C1 control characters, DEL included: a terminal acts on them (ESC starts a sequence
# that can clear it, recolour it or set its title; a tab moves the cursor).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def visible(value: object) -> str:
    """`value` as text whose control characters show as escapes (a key's tab as \\t, ESC as
    \\x1b): object keys, tags and queue messages are anyone's input, and are printed as data."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], str(value))


def cell(value: object) -> Text:
    """A table cell or title that shows `value` as it is: never read as rich markup (a key
    `a[red].jpg` keeps its brackets), its control characters escaped (`visible`)."""
    return Text(visible(value))


TRAINING_LOGGER = "training"  # the logger of every training module (training.*)


@contextmanager
def logger_handled_by(name: str, handler: logging.Handler) -> Iterator[None]:
    """A logger's records go to `handler` alone meanwhile: not on to the root logger's
    handlers too (absl's, once TensorFlow is imported, prints them again as ERROR:name:...)."""
    logger = logging.getLogger(name)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


@contextmanager
def log_to_file(name: str, path: Path) -> Iterator[None]:
    """A logger's records (INFO and up) go to `path` meanwhile, and nowhere else."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    try:
        with logger_handled_by(name, handler):
            yield
    finally:
        handler.close()


def table_width() -> int | None:
    """The width a table must fit (the terminal's), or None when stdout is a file or a pipe,
    where a table is printed as wide as its rows (`print_table`): nothing is squeezed."""
    return stdout.width if stdout.is_terminal else None


def print_table(table: Table) -> None:
    """A table on stdout: in the terminal's width, or, piped, as wide as it needs."""
    if stdout.is_terminal:
        stdout.print(table)
        return
    unbounded = stdout.options.update_width(_UNBOUNDED_WIDTH)
    Console(width=stdout.measure(table, options=unbounded).maximum).print(table)


_UNBOUNDED_WIDTH = 100_000


def plain(value: Any) -> Any:
    """DynamoDB values (Decimal, sets) as JSON-friendly Python values."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [plain(inner) for inner in value]
    if isinstance(value, set):
        return sorted(plain(inner) for inner in value)
    return value


NATIVE_LOG = "native.log"  # TensorFlow's, absl's and LiteRT's C++ lines during a run


@contextmanager
def native_stderr_to(path: Path) -> Iterator[None]:
    """What native libraries write to file descriptor 2 goes to `path` meanwhile.

    TensorFlow's and absl's C++ start-up lines, the TFLite converter's and LiteRT's are
    written straight to fd 2, whatever Python's logging says. Python's own `sys.stderr`
    (progress bars, warnings, our messages) keeps the terminal: it is reopened on a copy of
    the original descriptor. On an error the log's path is printed, so nothing is hidden.
    """
    sys.stderr.flush()
    terminal = os.dup(2)
    python_stderr = sys.stderr
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
        # Never closed: a logging handler made meanwhile (absl's, when TensorFlow is first
        # imported here) keeps this stream, which still writes to the terminal after the
        # block. One descriptor per use, a few per process.
        sys.stderr = open(  # noqa: SIM115
            os.dup(terminal), "w", buffering=1, encoding="utf-8", errors="backslashreplace"
        )
        try:
            yield
        except CliError:
            raise  # the user's mistake, said in its one line: the log has nothing for it
        except BaseException:
            sys.stderr.write(f"native libraries' output of this run: {path}\n")
            raise
        finally:
            sys.stderr.flush()
            sys.stderr = python_stderr
            os.dup2(terminal, 2)
            os.close(terminal)
