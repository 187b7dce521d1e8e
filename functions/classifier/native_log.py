"""LiteRT's one native log line, kept off the terminal.

The first interpreter a process builds makes LiteRT's C++ print
`INFO: Created TensorFlow Lite XNNPACK delegate for CPU.` straight to file descriptor 2, once
per process, whatever Python's logging says (TF_CPP_MIN_LOG_LEVEL does not reach it). So the
first construction runs with fd 2 pointed at a temporary file, and everything written there
meanwhile, except that line, is written back to the real stderr: an error LiteRT (or another
thread) prints in that window is delayed, never lost. Later constructions run untouched.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
NOISE = (b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",)
_lock = threading.Lock()
_quiet_done = False


def first_quietly(build: Callable[[], T]) -> T:
    """`build()`; the process's first call with LiteRT's start-up line filtered out."""
    global _quiet_done
    if _quiet_done:
        return build()
    with _lock:
        if _quiet_done:
            return build()
        with _filtered_stderr():
            result = build()
        _quiet_done = True
        return result


@contextmanager
def _filtered_stderr() -> Iterator[None]:
    stderr_fd = 2  # where native code writes, whatever sys.stderr is now
    sys.stderr.flush()
    saved = os.dup(stderr_fd)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), stderr_fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, stderr_fd)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().splitlines(keepends=True)
                if not line.rstrip().startswith(NOISE)
            ]
            if kept:
                os.write(stderr_fd, b"".join(kept))
