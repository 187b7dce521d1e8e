"""A reader for WordNet 3.0's noun database (the format of `man 5 wndb`): synsets, their
hypernyms, their lemmas' sense order and how often each sense was tagged in SemCor.

Only the generator (training.labels.build) reads WordNet; everything else reads the
generated hierarchy.json, except `first_noun_gloss`, `first_noun_sense` and
`noun_ancestors`, which the CLI asks, when WordNet is installed, to say why a word names no
label, that the label a name was given is not the word's first sense, or where a trained
label that no ImageNet class is ("tree") sits (under "plant").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from classifier import word_forms
from classifier.hierarchy import gloss_clause

DEFAULT_DIR = Path("/usr/share/wordnet")
HYPERNYM_POINTERS = ("@", "@i")  # hypernym, instance hypernym


class WordNetError(ValueError):
    """The WordNet files are missing or not in wndb's format."""


@dataclass(frozen=True)
class Synset:
    """One noun synset: its id ("n" + offset), lemmas (underscores kept), hypernyms, gloss."""

    id: str
    lex_filenum: int
    lemmas: tuple[str, ...]
    lex_ids: tuple[int, ...]
    hypernyms: tuple[str, ...]
    gloss: str

    def sense_key(self, position: int) -> str:
        """The sense key of one of its lemmas, as cntlist.rev spells it."""
        lemma = self.lemmas[position].lower()
        return f"{lemma}%1:{self.lex_filenum:02d}:{self.lex_ids[position]:02d}::"


@dataclass(frozen=True)
class WordNet:
    """The noun synsets, each lemma's synsets in sense order, and tag counts by sense key."""

    synsets: dict[str, Synset]
    senses: dict[str, tuple[str, ...]]
    tag_counts: dict[str, int]

    def tag_count(self, synset_id: str) -> int:
        """How often any lemma of a synset was tagged in that sense (SemCor's cntlist)."""
        synset = self.synsets[synset_id]
        return sum(self.tag_counts.get(synset.sense_key(i), 0) for i in range(len(synset.lemmas)))


def synset_id(offset: str) -> str:
    """ImageNet's wnid for a data.noun offset."""
    return "n" + offset.zfill(8)


def _data_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.startswith("  "):  # the licence header's lines start with two spaces
                yield line.rstrip("\n")


def parse_data_line(line: str) -> Synset:
    """One data.noun line: offset lex_filenum ss_type w_cnt (word lex_id)* p_cnt ptrs | gloss."""
    head, _, gloss = line.partition(" | ")
    fields = head.split()
    try:
        words = int(fields[3], 16)
        lemmas = tuple(fields[4 : 4 + 2 * words : 2])
        lex_ids = tuple(int(x, 16) for x in fields[5 : 5 + 2 * words : 2])
        at = 4 + 2 * words
        pointers = int(fields[at])
        hypernyms = tuple(
            synset_id(fields[at + 2 + 4 * i])
            for i in range(pointers)
            if fields[at + 1 + 4 * i] in HYPERNYM_POINTERS and fields[at + 3 + 4 * i] == "n"
        )
        return Synset(
            synset_id(fields[0]), int(fields[1]), lemmas, lex_ids, hypernyms, gloss.strip()
        )
    except (IndexError, ValueError) as error:
        raise WordNetError(f"data.noun line {line[:40]!r}... is not wndb: {error}") from None


def _index_senses(path: Path) -> dict[str, tuple[str, ...]]:
    """index.noun: lemma p_cnt ptr_symbol* sense_cnt tagsense_cnt offset* (sense order)."""
    senses: dict[str, tuple[str, ...]] = {}
    for line in _data_lines(path):
        lemma, offsets = _index_entry(line)
        senses[lemma] = tuple(synset_id(o) for o in offsets)
    return senses


def _index_entry(line: str) -> tuple[str, list[str]]:
    """One index.noun line: its lemma and its synsets' offsets, in sense order."""
    fields = line.split()
    return fields[0], fields[len(fields) - int(fields[2]) :]


def _tag_counts(path: Path) -> dict[str, int]:
    """cntlist.rev: sense_key sense_number tag_cnt."""
    counts: dict[str, int] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, _, count = line.split()
            counts[key] = int(count)
    return counts


def load(directory: Path = DEFAULT_DIR) -> WordNet:
    """WordNet's nouns from a wndb directory (Debian's wordnet-base: /usr/share/wordnet)."""
    data = directory / "data.noun"
    if not data.is_file():
        raise WordNetError(f"no WordNet at {directory} (apt-get install wordnet-base)")
    synsets = {s.id: s for s in map(parse_data_line, _data_lines(data))}
    return WordNet(
        synsets=synsets,
        senses=_index_senses(directory / "index.noun"),
        tag_counts=_tag_counts(directory / "cntlist.rev"),
    )


def first_noun_gloss(word: str, directory: Path = DEFAULT_DIR) -> str | None:
    """The first clause of the definition of a word's first noun sense (or of its singular's:
    "trees"), or None: no such noun, or no WordNet."""
    synset = first_noun_sense(word, directory)
    return (gloss_clause(synset.gloss) or None) if synset is not None else None


def first_noun_sense(word: str, directory: Path = DEFAULT_DIR) -> Synset | None:
    """A word's first noun sense (or its singular's), or None: no such noun, or no WordNet.
    One scan of index.noun and one seek into data.noun, whose offsets are byte offsets."""
    forms = (word_forms.normalised(word), *word_forms.singulars(word))
    keys = ["_".join(form.split()) + " " for form in forms]
    try:
        with (directory / "index.noun").open(encoding="utf-8") as index:
            found = {key: entry for entry in index for key in keys if entry.startswith(key)}
        line = next((found[key] for key in keys if key in found), None)
        if line is None:
            return None
        with (directory / "data.noun").open("rb") as data:
            data.seek(int(_index_entry(line)[1][0]))
            return parse_data_line(data.readline().decode("utf-8"))
    except (OSError, ValueError, IndexError):
        return None


def noun_ancestors(word: str, directory: Path = DEFAULT_DIR) -> tuple[str, ...]:
    """The synset ids above a word's first noun sense (its singular's: "trees"), nearest
    first, each once: its hypernyms, theirs, and so on to `entity`; () when WordNet has no
    such noun or is not installed. Each hypernym is a seek into data.noun (its offset)."""
    first = first_noun_sense(word, directory)
    if first is None:
        return ()
    found: dict[str, None] = {}
    frontier = list(first.hypernyms)
    try:
        with (directory / "data.noun").open("rb") as data:
            while frontier:
                synset_id_ = frontier.pop(0)
                if synset_id_ in found:
                    continue
                found[synset_id_] = None
                data.seek(int(synset_id_[1:]))
                frontier += parse_data_line(data.readline().decode("utf-8")).hypernyms
    except (OSError, ValueError):
        return ()
    return tuple(found)
