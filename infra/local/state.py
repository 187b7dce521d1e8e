"""The state file through which other `--env local` commands find the running environment."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import IO, Any

HOME_VARIABLE = "IMGCLF_HOME"
STATE_FILE = Path("local") / "endpoint.json"
START_LOCK_FILE = Path("local") / "up.lock"
PROMOTED_FILE = Path("local") / "promoted"


HOME_FOLDER = ".imgclf"


def imgclf_home(start: Path | None = None) -> Path:
    """Where imgclf keeps generated data: $IMGCLF_HOME, else the nearest `.imgclf` folder in
    the working directory or above it, but no higher than the root of the git checkout it is
    in, whose `.imgclf` it is then (so commands run from a subfolder of a project share its
    running environment and caches, and a fresh checkout does not borrow one from a folder
    above it), else ./.imgclf (gitignored)."""
    if os.environ.get(HOME_VARIABLE):
        return Path(os.environ[HOME_VARIABLE]).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / HOME_FOLDER).is_dir():
            return folder / HOME_FOLDER
        if (folder / ".git").exists():
            return folder / HOME_FOLDER  # the checkout's own, even before it exists
    return here / HOME_FOLDER


def state_path(home: Path | None = None) -> Path:
    return (home or imgclf_home()) / STATE_FILE


def write_state(state: dict[str, Any], home: Path | None = None) -> Path:
    path = state_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True))
    temporary.replace(path)
    return path


def read_state(home: Path | None = None) -> dict[str, Any] | None:
    """The running environment's state, or None when no environment wrote one."""
    try:
        data = json.loads(state_path(home).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def note_promoted(version: str, home: Path) -> None:
    """Remember the version last promoted in this home's environment, so that the next
    `imgclf local up` makes it live again rather than whichever cached model is newest."""
    path = home / PROMOTED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(f"{version}\n")
    temporary.replace(path)


def last_promoted(home: Path) -> str | None:
    """The version `note_promoted` last remembered in this home, or None."""
    try:
        return (home / PROMOTED_FILE).read_text().strip() or None
    except OSError:
        return None


def remove_state(home: Path | None = None, *, pid: int | None = None) -> None:
    """Remove the state file, if it is ours (same pid) or no pid is given."""
    path = state_path(home)
    if pid is not None:
        state = read_state(home)
        if state is not None and state.get("pid") != pid:
            return
    path.unlink(missing_ok=True)


def claim_home(home: Path | None = None) -> IO[str] | None:
    """The home's local environment for this process: an exclusive lock, held while the
    returned file is open (the OS drops it when the process ends, however it ends); None when
    another process holds it. `imgclf local up` takes it before anything starts, so a second
    one started before the first has written its state file fails instead of running beside
    it."""
    path = (home or imgclf_home()) / START_LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
