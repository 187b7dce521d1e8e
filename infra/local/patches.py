"""Process-wide changes that live only as long as their owner: each is undone by `undo()`.

The in-process moto server patches moto's classes (moto_fidelity.py, s3_encryption.py) and
quietens loggers; the environment replaces boto3's default session. Recording every change
here, and undoing them all when the server or environment stops, keeps them from reaching
anything that runs later in the process (moto's `mock_aws` in a test, another environment).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

_ABSENT = object()


class Patches:
    """Attributes replaced and logger levels set, in order; `undo()` restores them in reverse."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def replace(self, owner: Any, name: str, value: Any) -> None:
        """Set `owner.name` (a class's or module's own attribute) until undone."""
        original = vars(owner).get(name, _ABSENT)
        setattr(owner, name, value)

        def restore() -> None:
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)

        self.on_undo(restore)

    def on_undo(self, restore: Callable[[], None]) -> None:
        """Run `restore` when undone (after every change recorded later is undone)."""
        self._undo.append(restore)

    def set_level(self, logger_name: str, level: int) -> None:
        """Set a logger's level until undone."""
        logger = logging.getLogger(logger_name)
        previous = logger.level
        logger.setLevel(level)
        self.on_undo(lambda: logger.setLevel(previous))

    def undo(self) -> None:
        """Restore everything, newest first; a second call does nothing."""
        while self._undo:
            self._undo.pop()()
