"""The workload: which keys are uploaded, overwritten, deleted and re-created, with what, and
the truth the audit expects of each; and what happened to each key while it ran."""

from __future__ import annotations

import io
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from classifier.contracts import Status

from .parameters import POISON_KEYS, POISON_PREFIX

USER_TAGS = {"owner": "soak", "project": "imgclf"}
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}

# Scenario kinds. Weights are per scenario (a burst holds several uploads).
PLAIN = "plain"
BURST = "burst"  # the same key overwritten 2-5 times in quick succession
DELETED = "deleted"  # create, then delete (same thread)
RECREATED = "recreated"  # create, delete, create again (same thread)
RACE_DELETE = "race-delete"  # create, then delete from another thread right after
RACE_CREATE = "race-create"  # create, delete, then create from another thread right after
BAD = "bad"  # a truncated JPEG or a text file named .jpg: truth REJECTED
POISON = "poison"  # GET fails while faults are on: ends in the DLQ, redriven after the lift
WEIGHTS = {
    PLAIN: 0.60,
    BURST: 0.12,
    DELETED: 0.06,
    RECREATED: 0.06,
    RACE_DELETE: 0.06,
    RACE_CREATE: 0.06,
    BAD: 0.01,
}
TAGGED_SHARE = 0.2  # of the scenarios that end with an upload
BAD_KINDS = ("truncated", "text")


@dataclass(frozen=True)
class Step:
    """One operation on a key: a PUT of some content, or a DELETE."""

    op: str  # "put" | "delete"
    content: str | None = None  # a colour, or "bad:truncated" / "bad:text"; None for delete
    seed: int = 0
    tagged: bool = False
    other_thread: bool = False  # issued from another thread right after the previous step


@dataclass(frozen=True)
class Scenario:
    kind: str
    key: str
    steps: tuple[Step, ...]

    @property
    def final(self) -> Step:
        return self.steps[-1]

    @property
    def exists(self) -> bool:
        return self.final.op == "put"

    @property
    def uploads(self) -> int:
        return sum(step.op == "put" for step in self.steps)

    @property
    def expected_status(self) -> str | None:
        if not self.exists:
            return None
        bad = (self.final.content or "").startswith("bad:")
        return str(Status.REJECTED if bad else Status.CLASSIFIED)

    @property
    def expected_label(self) -> str | None:
        return self.final.content if self.expected_status == Status.CLASSIFIED.value else None


class _Planner:
    """Draws scenarios from one seeded random stream, in the order the workload needs them."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.scenarios: list[Scenario] = []
        self._counter = iter(range(10**9))
        self._indexes: Counter[str] = Counter()

    def put(self, content: str, *, tagged: bool = False, other_thread: bool = False) -> Step:
        return Step(
            "put", content, next(self._counter) + self.seed * 1_000_003, tagged, other_thread
        )

    def colour(self, avoid: str | None = None) -> str:
        return self.rng.choice([c for c in COLOURS if c != avoid])

    def make(self, kind: str, index: int, tagged: bool) -> Scenario:
        put, colour = self.put, self.colour
        key = f"soak/{kind}/{index:05d}.jpg"
        if kind == PLAIN:
            steps: tuple[Step, ...] = (put(colour(), tagged=tagged),)
        elif kind == BURST:
            contents: list[str] = []
            for _ in range(self.rng.randint(2, 5)):
                contents.append(colour(contents[-1] if contents else None))
            steps = tuple(put(c, tagged=tagged) for c in contents)
        elif kind == DELETED:
            steps = (put(colour(), tagged=tagged), Step("delete"))
        elif kind == RECREATED:
            first = colour()
            steps = (put(first), Step("delete"), put(colour(first), tagged=tagged))
        elif kind == RACE_DELETE:
            steps = (put(colour(), tagged=tagged), Step("delete", other_thread=True))
        elif kind == RACE_CREATE:
            first = colour()
            steps = (
                put(first),
                Step("delete"),
                put(colour(first), tagged=tagged, other_thread=True),
            )
        elif kind == BAD:
            bad = BAD_KINDS[index % len(BAD_KINDS)]
            key = f"soak/bad/{index:05d}-{bad}.jpg"
            steps = (put(f"bad:{bad}", tagged=tagged),)
        elif kind == POISON:
            key = f"{POISON_PREFIX}{index:05d}.jpg"
            steps = (put(colour(), tagged=tagged),)
        else:
            raise ValueError(kind)
        return Scenario(kind, key, steps)

    def add(self, kind: str, tagged: bool | None = None) -> None:
        if tagged is None:
            tagged = self.rng.random() < TAGGED_SHARE
        self.scenarios.append(self.make(kind, self._indexes[kind], tagged))
        self._indexes[kind] += 1


def plan_workload(images: int, seed: int, *, poison: int = POISON_KEYS) -> list[Scenario]:
    """Scenarios holding about `images` uploads: every kind at least once, then by weight."""
    planner = _Planner(seed)
    for _ in range(poison):
        planner.add(POISON, tagged=False)
    # Every kind at least once, and both bad kinds; the first plain and burst carry user tags.
    for kind in WEIGHTS:
        planner.add(kind, tagged=kind in (PLAIN, BURST, RECREATED, RACE_CREATE))
    planner.add(BAD)
    scenarios = planner.scenarios
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    total = sum(s.uploads for s in scenarios)
    while total < images:
        planner.add(planner.rng.choices(kinds, weights)[0])
        total += scenarios[-1].uploads
    planner.rng.shuffle(scenarios)
    return scenarios


def colour_jpeg(colour: str, seed: int) -> bytes:
    """A small noisy image dominated by one colour (48-64 px), as the tiny model expects."""
    rng = np.random.default_rng(seed)
    size = 48 + seed % 17
    pixels = np.array(COLOURS[colour], np.float32) + rng.normal(0, 20, (size, size, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def content_bytes(step: Step) -> bytes:
    content = step.content or ""
    if content == "bad:truncated":
        whole = colour_jpeg("red", step.seed)
        return whole[: len(whole) // 2]
    if content == "bad:text":
        return f"not an image, just text #{step.seed}\n".encode() * 20
    return colour_jpeg(content, step.seed)


# What happened to each key, for the audit's findings
@dataclass
class Event:
    seconds: float
    op: str
    content: str | None
    thread: str
    etag: str | None = None
    version_id: str | None = None
    error: str | None = None

    def describe(self) -> str:
        what = f"{self.op} {self.content}" if self.content else self.op
        parts = [f"t={self.seconds:8.3f}s", what, f"[{self.thread}]"]
        if self.etag:
            parts.append(f"etag {self.etag[:10]}")
        if self.version_id:
            parts.append(f"version {self.version_id[:12]}")
        if self.error:
            parts.append(f"ERROR {self.error}")
        return " ".join(parts)


@dataclass
class History:
    events: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))
    started: float = field(default_factory=time.monotonic)

    def add(self, key: str, event: Event) -> None:
        self.events[key].append(event)  # one key is worked on by one operation at a time

    def now(self) -> float:
        return time.monotonic() - self.started
