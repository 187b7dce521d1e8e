"""A data set's layout, one folder (or S3 prefix) per label, and the rules it must meet.

Amazon Rekognition Custom Labels reads `s3://bucket/prefix/<label>/<images>`; a local data
dir is the same shape. Both are checked by these functions before any image is decoded or
downloaded: the local folder by `training.data.folder_layout`, the S3 prefix by the CLI's
listing (imgclf/s3_data.py). Standard library only, so the CLI pays for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from classifier.contracts import UNKNOWN_LABEL, tag_value_problem
from classifier.word_forms import label_key
from training.datasets.animals10 import english_label

MIN_LABELS = 2
MIN_IMAGES_PER_LABEL = 5  # as Custom Labels asks of a training data set
MAX_LISTED_NAMES = 20  # loose files named in one line; the rest are counted


@dataclass(frozen=True)
class DataLayout:
    """What a folder-per-label data set holds: files per label, and files outside any label.

    `root` is shown as the user wrote it (a folder or `s3://bucket/prefix/`); `kind` names its
    label containers in messages ("folder" or "prefix"); `unreadable` is how many files were
    skipped before `counts` was taken (0 for a listing).
    """

    root: str
    kind: str
    counts: Mapping[str, int]
    loose: tuple[str, ...] = field(default=())
    unreadable: int = 0

    @property
    def label_root(self) -> str:
        """The root with a trailing slash, as `<root><label>/` is written."""
        return self.root if self.root.endswith("/") else self.root + "/"


def layout_problem(layout: DataLayout) -> str | None:
    """Why a data set cannot train a classifier, in one line; None when it can."""
    counts = layout.counts
    if not counts:
        return (
            f"{layout.root} has no label {_plural(layout.kind)}; put each label's images under "
            f"{layout.label_root}<label>/"
        )
    if len(counts) < MIN_LABELS:
        return (
            f"{layout.root} needs at least {MIN_LABELS} labels, found {len(counts)}: "
            + ", ".join(sorted(counts))
        )
    return _names_problem(layout) or _sizes_problem(layout)


def _names_problem(layout: DataLayout) -> str | None:
    """Label names a model cannot have: `unknown` (what it says of anything else), or two
    that a search takes for one (`imgclf results --label` reads any case)."""
    seen: dict[str, str] = {}
    for label in sorted(layout.counts):
        if label_key(label) == UNKNOWN_LABEL:
            return (
                f"{layout.label_root}{label}: a label cannot be {UNKNOWN_LABEL!r}, what the model "
                f"says of anything that is none of its labels; rename the {layout.kind}"
            )
        first = seen.setdefault(label_key(label), label)
        if first != label:
            return (
                f"{layout.label_root}{first} and {layout.label_root}{label} are one label to a "
                f"search (any case); merge the {_plural(layout.kind)} or rename one"
            )
    return None


def _sizes_problem(layout: DataLayout) -> str | None:
    counts = layout.counts
    if min(counts.values()) < MIN_IMAGES_PER_LABEL:
        listed = ", ".join(f"{label} {counts[label]}" for label in sorted(counts))
        n = layout.unreadable
        after = f" (after skipping {n} unreadable {'file' if n == 1 else 'files'})" if n else ""
        return (
            f"{layout.root}: every label needs at least {MIN_IMAGES_PER_LABEL} images: "
            f"{listed}{after}"
        )
    return None


def loose_files_note(layout: DataLayout) -> str | None:
    """One line naming the files directly under the root, which no label owns; None if none."""
    loose = sorted(layout.loose)
    if not loose:
        return None
    names = ", ".join(loose[:MAX_LISTED_NAMES])
    more = f" and {len(loose) - MAX_LISTED_NAMES} more" if len(loose) > MAX_LISTED_NAMES else ""
    files = "file" if len(loose) == 1 else "files"
    return (
        f"skipped {len(loose)} {files} directly under {layout.root} (not in a label "
        f"{layout.kind}): {names}{more}"
    )


def label_problem(kind: str, where: str, label: str) -> str | None:
    """Why a label folder's (or prefix's) name cannot be a label, in one line; None if it can.

    The function writes labels as S3 tag values, so a label S3 cannot store is refused here.
    """
    if not label.strip():
        return f'class {kind} "{where}" gives a blank label; rename the {kind}'
    problem = tag_value_problem(label)
    if problem:
        return (
            f'class {kind} "{where}" gives the label {label!r}, which S3 cannot store as a tag '
            f"value: {problem}; rename the {kind}"
        )
    return None


def prefix_layout(root: str, relative_keys: Iterable[str]) -> DataLayout:
    """The layout of the keys under an S3 prefix, given relative to it (`cat/1.jpg`).

    The first part of a key is its label prefix (Animals-10's Italian names become English,
    as for folders); a key with no `/` is a loose file. Folder markers (`cat/`) make a label
    with no images; hidden parts (`.DS_Store`, `.cache/`) are ignored, as training ignores them.
    """
    counts: dict[str, int] = {}
    loose: list[str] = []
    for key in _visible(relative_keys):
        name, slash, rest = key.partition("/")
        if not slash:
            loose.append(key)
            continue
        label = english_label(name)
        counts[label] = counts.get(label, 0) + (1 if rest and not rest.endswith("/") else 0)
    return DataLayout(root=root, kind="prefix", counts=counts, loose=tuple(loose))


def prefix_label_problem(root: str, relative_keys: Iterable[str]) -> str | None:
    """The first label prefix whose name cannot be a label (see `label_problem`), or None."""
    names = sorted({key.split("/")[0] for key in _visible(relative_keys) if "/" in key})
    for name in names:
        problem = label_problem("prefix", f"{root}{name}/", english_label(name))
        if problem:
            return problem
    return None


def label_files(relative_keys: Iterable[str]) -> list[str]:
    """The keys training reads: files in a label prefix, neither hidden nor folder markers."""
    return [key for key in _visible(relative_keys) if "/" in key and not key.endswith("/")]


def _plural(kind: str) -> str:
    return kind + ("es" if kind.endswith("x") else "s")


def _visible(relative_keys: Iterable[str]) -> Iterable[str]:
    return (key for key in relative_keys if not any(p.startswith(".") for p in key.split("/")))
