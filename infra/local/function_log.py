"""Where the function's log lines go locally.

On Lambda they go to CloudWatch Logs. Locally the handler runs in the caller's process, so its
Powertools logger (named after the service) writes to the caller's stdout; a command that
prints its own summary (`make demo`) sends them to a file instead, as CloudWatch would keep
them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import IO, Any

from classifier.contracts import SERVICE_NAME


class FunctionLog:
    """The function logger's stream handlers write to `path` between open() and close()."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._previous: list[tuple[logging.StreamHandler[Any], IO[str]]] = []

    def open(self) -> FunctionLog:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8", buffering=1)
        for handler in logging.getLogger(SERVICE_NAME).handlers:
            if type(handler) is logging.StreamHandler:  # not a FileHandler or pytest's
                previous = handler.setStream(self._file)
                if previous is not None:
                    self._previous.append((handler, previous))
        return self

    def close(self) -> None:
        for handler, previous in self._previous:
            handler.setStream(previous)
        self._previous.clear()
        if self._file is not None:
            self._file.close()
            self._file = None
