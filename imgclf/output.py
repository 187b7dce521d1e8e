"""Consoles and progress bars: data on stdout, progress and messages on stderr."""

from __future__ import annotations

import os
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
        sys.stderr = open(  # noqa: SIM115 - closed below, after fd 2 is restored
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
            sys.stderr.close()
            sys.stderr = python_stderr
            os.dup2(terminal, 2)
            os.close(terminal)
