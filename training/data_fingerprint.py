"""A data set's fingerprint: one hash of its file names and bytes.

Below both the folder loader (training.data) and the generated data sets (training.datasets),
which record it in their summaries; model.json and the gate compare models by it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def fingerprint(root: Path, files: Iterable[Path]) -> str:
    """A stable hash of the file list (paths relative to root) and every file's bytes."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return "sha256:" + digest.hexdigest()
