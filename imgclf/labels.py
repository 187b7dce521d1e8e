"""Generic labels in the CLI: the hierarchy, `--label WORD` at any level, `imgclf labels`.

An item sits in by_label under one value, its `label` (for a generic model its most specific
generic label, "golden retriever"), and a generic item whose image shows a second thing also
in by_second_label under its `second_label` ("cup"). A query for a word at any level ("dog",
"animal") asks that word's own value and the value of every label under it that the label
registry has seen, each on all its shards and in both indexes (results.query_results),
merged newest first, each item once. Counts read the same partitions (by_label's with
`Select=COUNT`, by_second_label's for each item's `label`) and are summed up the hierarchy
when read, each item once: its two labels share no label above them when written
(hierarchy.second_thing), but a word too general to be a label ("object"), a hierarchy
edited since, or a trained label can still hold both, and the pairs say how often.

The hierarchy comes from one place, `hierarchy()`, so tests can replace it.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from rich.table import Table

from classifier.contracts import (
    LABEL_ATTRIBUTE,
    LABEL_INDEX,
    LABELS_ATTRIBUTE,
    REJECTED_PARTITION,
    RESULTS_INDEXES,
    SECOND_LABEL_INDEX,
    UNKNOWN_LABEL,
    shard_values,
)
from classifier.hierarchy import HierarchyError, LabelHierarchy, Node, gloss_clause
from classifier.word_forms import label_key, singulars

from .deployment import Deployment
from .errors import CliError
from .output import cell
from .result_queries import MAX_PARALLEL_QUERIES, ResultQuery, query_arguments, query_page

HIERARCHY_MODULE = "training.labels"
HIERARCHY_FUNCTION = "builtin_hierarchy"
SUGGESTIONS = 3


def hierarchy() -> LabelHierarchy:
    """The generic label hierarchy (training.labels.builtin_hierarchy); CliError, one line,
    when it is not available."""
    try:
        module = importlib.import_module(HIERARCHY_MODULE)
        build = getattr(module, HIERARCHY_FUNCTION)
        found = build()
    except (ImportError, AttributeError, OSError, HierarchyError) as error:
        raise CliError(f"the label hierarchy is not available: {error}") from None
    if not isinstance(found, LabelHierarchy):
        raise CliError(f"{HIERARCHY_MODULE}.{HIERARCHY_FUNCTION} returned no LabelHierarchy")
    return found


def optional_hierarchy() -> tuple[LabelHierarchy | None, str | None]:
    """The hierarchy, or None and why not (trained labels work without it)."""
    try:
        return hierarchy(), None
    except CliError as error:
        return None, str(error)


@dataclass(frozen=True)
class LabelSelection:
    """What `--label WORD` asks for: the label it names and the index values under it."""

    word: str
    name: str  # the hierarchy's name for the word, or the registry value itself
    values: tuple[str, ...]  # index values to ask: the label and every label under it
    under: frozenset[str] = frozenset()  # the hierarchy's names under the word
    # What the hierarchy took the word to mean, for the table's title: "construction crane
    # (n03126707): lifts and moves heavy objects"; "" for a registry value or `unknown`
    meaning: str = ""

    def confidence(self, item: Mapping[str, Any]) -> float:
        """The item's confidence for this label: `labels[name]` when it has it, else the most
        confident of its stored labels under the name (a lower bound: a label is never less
        confident than one under it; the cap may have dropped the name itself, as it drops
        "ball" above a second thing's "tennis ball"); and when the item's own `label` is one
        this selection asks for (a trained `tool`, whose generic `tool` may be lower), its
        `confidence`, the figure its row shows: the highest of those."""
        stored = item.get(LABELS_ATTRIBUTE) or {}
        if self.name in stored:
            found = [float(stored[self.name])]
        else:
            found = [float(value) for name, value in stored.items() if name in self.under]
        if item.get("label") in self.values or not found:
            found.append(float(item.get("confidence", -1)))
        return max(found)


def select_label(
    word: str, present: Iterable[str], labels: LabelHierarchy | None, why: str | None = None
) -> LabelSelection:
    """The selection for a word (a hierarchy name or alias, any case; a DetectLabels-style
    category, "Animals and Pets", read through the labels in it; a registry value; or
    `unknown`), given the by_label values present; CliError with suggestions otherwise."""
    values = sorted({value for value in present if value != REJECTED_PARTITION})
    if word.strip().lower() == UNKNOWN_LABEL:
        return LabelSelection(word, UNKNOWN_LABEL, (UNKNOWN_LABEL,))
    scope = word_scope(word, labels) if labels is not None else None
    if labels is not None and scope is not None:
        under = {name.lower() for name in scope.names}
        return LabelSelection(
            word,
            scope.name,
            tuple(v for v in values if _names_under(v, under, labels)),
            frozenset(scope.names),
            scope.meaning,
        )
    # A registry value the hierarchy has no node of (a trained "tree"), in any case, spelled
    # with underscores or spaces, or asked in the plural ("trees")
    forms = {label_key(form) for form in (word, *singulars(word))}
    same = [value for value in values if label_key(value) in forms]
    if same:
        exact = word if word in same else same[0]
        return LabelSelection(word, exact, (exact,))
    raise CliError(unknown_label_message(word, values, labels, why))


def with_label(
    query: ResultQuery,
    word: str,
    present: Iterable[str],
    live: Callable[[], Iterable[str]] = tuple,
) -> tuple[ResultQuery, LabelSelection]:
    """The query for a label at any level (its by_label values and its confidence), and what
    the word was taken to mean. A word no value or name is, but one of `live`'s labels (the
    live model's own, read only then), is a query with no results yet, not an error."""
    found, why = optional_hierarchy()
    present = list(present)
    try:
        selection = select_label(word, present, found, why)
    except CliError:
        labels = list(live())
        if not labels:
            raise
        selection = select_label(word, [*present, *labels], found, why)
    query = replace(query, values=selection.values, confidence_of=selection.confidence)
    return query, selection


@dataclass(frozen=True)
class WordScope:
    """What a query word reads in the hierarchy: a node and the labels under it, or a
    DetectLabels category and the labels in it."""

    name: str  # the node's name, or the category's
    names: tuple[str, ...]  # that name and every visible label under it, or in it
    summed: bool  # no label of its own (a hidden node, a category): counted from its labels
    meaning: str  # for the table's title


def word_scope(word: str, labels: LabelHierarchy) -> WordScope | None:
    """The scope of a word: the node it names (`LabelHierarchy.search`), else the category
    it names (`HierarchyWords.category`); None if neither."""
    node = labels.search(word)
    if node is not None:
        return WordScope(node.name, labels.descendants(node.id), node.hidden, _meaning(node))
    category = labels.words.category(word)
    if category is None:
        return None
    name, members = category
    return WordScope(name, (name, *members), True, f"the category {name} ({len(members)} labels)")


def _meaning(node: Node) -> str:
    """ "construction crane (n03126707): lifts and moves heavy objects": a node, and the first
    clause of its gloss."""
    gloss = gloss_clause(node.gloss)
    return f"{node.name} ({node.id})" + (f": {gloss}" if gloss else "")


def _names_under(value: str, under: set[str], labels: LabelHierarchy) -> bool:
    """Whether a by_label value is one of `under`, by name or through the hierarchy (a trained
    label "cow" is the hierarchy's "cattle", by its alias; "dogs" is "dog"), or through
    WordNet for a trained label the hierarchy has no node of (`wordnet_placement`: "tree"
    is under "plant")."""
    if value.lower() in under:
        return True
    node = labels.search(value)
    if node is not None:
        return node.name.lower() in under
    return any(above.name.lower() in under for above in wordnet_placement(value, labels))


def wordnet_placement(value: str, labels: LabelHierarchy) -> tuple[Node, ...]:
    """The hierarchy's nodes above a value it has no node of, through WordNet's hypernyms of
    the value's first noun sense (a trained "tree": vascular plant, plant), nearest first;
    () without WordNet (Debian's wordnet-base) or for a value WordNet does not know."""
    if value in (UNKNOWN_LABEL, REJECTED_PARTITION):
        return ()
    return tuple(labels.nodes[i] for i in _wordnet_ancestors(value) if i in labels.nodes)


@functools.lru_cache(maxsize=1024)
def _wordnet_ancestors(value: str) -> tuple[str, ...]:
    try:
        from training.labels.wordnet import noun_ancestors
    except ImportError:
        return ()
    return noun_ancestors(value)


def unknown_label_message(
    word: str, present: Sequence[str], labels: LabelHierarchy | None, why: str | None = None
) -> str:
    """`no label 'florp' (did you mean: flower, ...)`, one line."""
    # The values present first (a trained "tree" for "tres"), then the hierarchy's names
    lowered = {value.lower(): value for value in present}
    close = [
        lowered[match]
        for match in difflib.get_close_matches(word.lower(), list(lowered), SUGGESTIONS, 0.6)
    ]
    for name in labels.suggest(word, SUGGESTIONS) if labels is not None else []:
        if name not in close:
            close.append(name)
    hint = f" (did you mean: {', '.join(close[:SUGGESTIONS])})" if close else ""
    meaning = _wordnet_meaning(word) if labels is not None else None
    gap = (
        f"; WordNet knows it ({meaning}), but no ImageNet class is one: "
        "a label trained on your photos can name it (imgclf train)"
        if meaning
        else ""
    )
    return f"no label {word!r}{hint}{gap}" + (f"; {why}" if why else "")


def _wordnet_meaning(word: str) -> str | None:
    """What WordNet says the word means, when it is installed (Debian's wordnet-base)."""
    try:
        from training.labels.wordnet import first_noun_gloss
    except ImportError:
        return None
    return first_noun_gloss(word)


# --- counts --------------------------------------------------------------------------------


def _partition_arguments(
    table: str, partition: str, index: str, since: str | None = None
) -> dict[str, Any]:
    """The Query arguments for one partition of an index (since `since`)."""
    key = RESULTS_INDEXES[index].partition_key
    return query_arguments(table, index, key, partition, since, None)


def _pages(client: Any, arguments: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every page of a Query (1 MB read each; LastEvaluatedKey says there is more)."""
    while True:
        page = query_page(client, arguments)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        arguments = {**arguments, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def count_partition(
    client: Any, table: str, partition: str, since: str | None = None, index: str = LABEL_INDEX
) -> int:
    """Items in one partition of an index (since `since`): a Select=COUNT Query, every page."""
    arguments = {**_partition_arguments(table, partition, index, since), "Select": "COUNT"}
    return sum(int(page.get("Count", 0)) for page in _pages(client, arguments))


def labels_in_partition(
    client: Any, table: str, partition: str, index: str = SECOND_LABEL_INDEX
) -> Counter[str]:
    """The `label` of every item in one partition of an index, counted: a Query that returns
    that attribute alone (a COUNT reads, and bills, the same entries)."""
    arguments = _partition_arguments(table, partition, index)
    arguments["ExpressionAttributeNames"] = {
        **arguments["ExpressionAttributeNames"],
        "#label": LABEL_ATTRIBUTE,
    }
    arguments["ProjectionExpression"] = "#label"
    found: Counter[str] = Counter()
    for page in _pages(client, arguments):
        found.update(str(item.get(LABEL_ATTRIBUTE, {}).get("S", "")) for item in page["Items"])
    return found


@dataclass(frozen=True)
class LabelCensus:
    """What `imgclf labels` reads: each value's index entries (an item is under its label, and
    under its second label when it has one), and the items with a second label by (second
    label, label), so that a word above both labels counts such an item once."""

    entries: dict[str, int]
    pairs: Counter[tuple[str, str]]


def count_values(deployment: Deployment, values: Sequence[str]) -> LabelCensus:
    """Items labelled with each value, as their label (a COUNT of by_label's shards) or as
    their second label (by_second_label's shards, read for each item's label), each partition
    on its own thread (at most 16 at once)."""
    client = deployment.client("dynamodb")
    jobs = [
        (value, partition, index)
        for value in values
        for index in RESULTS_INDEXES
        for partition in shard_values(value, deployment.index_shards)
    ]
    census = LabelCensus(dict.fromkeys(values, 0), Counter())
    if not jobs:
        return census

    def read(job: tuple[str, str, str]) -> Counter[str] | int:
        _, partition, index = job
        if index == SECOND_LABEL_INDEX:
            return labels_in_partition(client, deployment.results_table, partition)
        return count_partition(client, deployment.results_table, partition, index=index)

    with ThreadPoolExecutor(min(len(jobs), MAX_PARALLEL_QUERIES)) as pool:
        for (value, _, _), found in zip(jobs, pool.map(read, jobs), strict=True):
            if isinstance(found, Counter):
                census.pairs.update({(value, label): n for label, n in found.items()})
                found = found.total()
            census.entries[value] += found
    return census


@dataclass(frozen=True)
class LabelCount:
    """One label present in the table: its items, under it included, and its own."""

    label: str
    count: int  # items whose label is this one or any under it
    direct: int  # items whose label is this one


def label_counts(
    counts: Mapping[str, int],
    labels: LabelHierarchy | None,
    pairs: Mapping[tuple[str, str], int] | None = None,
) -> list[LabelCount]:
    """Every label present, with its count summed up the hierarchy, each item once (`pairs`:
    the items that are also under a second label, LabelCensus): most items first."""
    totals: Counter[str] = Counter()
    direct: Counter[str] = Counter()
    for value, count in counts.items():
        if value == REJECTED_PARTITION or count <= 0:
            continue
        chain = _at_and_above(value, labels)
        direct[chain[0]] += count
        for above in chain:
            totals[above] += count
    for (second, label), count in (pairs or {}).items():
        shared = set(_at_and_above(second, labels)) & set(_at_and_above(label, labels))
        for name in shared:  # counted once under each of the item's two labels
            totals[name] -= count
    rows = [LabelCount(name, total, direct[name]) for name, total in totals.items()]
    return sorted((row for row in rows if row.count > 0), key=lambda row: (-row.count, row.label))


def _at_and_above(value: str, labels: LabelHierarchy | None) -> tuple[str, ...]:
    """An index value's label in the hierarchy (a trained "dogs" is "dog") and every label
    above it; for a value it has no node of, the value and the labels above it through
    WordNet (a trained "tree": tree, plant); else the value alone."""
    if labels is None:
        return (value,)
    node = labels.search(value)
    lineage = labels.lineage(node.name) if node is not None else None
    if lineage is not None:
        return (lineage.name, *lineage.parents)
    if node is not None:
        return (value,)
    return (value, *(above.name for above in wordnet_placement(value, labels) if not above.hidden))


@dataclass(frozen=True)
class LabelTree:
    """A label with its count and the present labels directly under it."""

    label: str
    count: int
    direct: int
    children: tuple[LabelTree, ...] = ()


def label_tree(
    word: str,
    counts: Mapping[str, int],
    labels: LabelHierarchy | None,
    why: str | None = None,
    pairs: Mapping[tuple[str, str], int] | None = None,
) -> LabelTree:
    """The subtree of a word: only labels present, each with its count (each item once),
    most items first."""
    rows = {row.label: row for row in label_counts(counts, labels, pairs)}
    scope = word_scope(word, labels) if labels is not None else None
    if labels is None or scope is None:
        name = select_label(word, [v for v, n in counts.items() if n > 0], labels, why).name
        row = rows.get(name, LabelCount(name, 0, 0))
        return LabelTree(row.label, row.count, row.direct)
    top, under, summed = scope.name, set(scope.names), scope.summed
    lowered = {name.lower() for name in under}
    present = {n: row for n, row in rows.items() if _names_under(n, lowered, labels)}
    if summed:  # a word too general to be a label, or a category: the labels under it
        twice = sum(  # items whose label and second label both sit under it
            count
            for (second, label), count in (pairs or {}).items()
            if _at_and_above(second, labels)[0] in under
            and _at_and_above(label, labels)[0] in under
        )
        total = sum(row.direct for row in present.values() if row.label != top) - twice
        present[top] = LabelCount(top, total, 0)

    def parents(name: str) -> list[str]:
        """A label's parents within the tree (for a trained label placed through WordNet,
        the nearest label above it); the root for a top label under a summed root."""
        inside = [p for p in labels.parent_names(name) if p in under]
        placed = [p for p in _at_and_above(name, labels)[1:2] if p in under and p != name]
        return inside or placed or [top]

    def grow(name: str) -> LabelTree:
        row = present.get(name, LabelCount(name, 0, 0))
        below = [n for n in present if n != top and name in parents(n)]
        below.sort(key=lambda n: (-present[n].count, n))
        return LabelTree(name, row.count, row.direct, tuple(grow(n) for n in below))

    return grow(top)


def tree_lines(tree: LabelTree, depth: int = 0) -> list[str]:
    """The tree indented two spaces a level, `<label>  <count>` on each line."""
    lines = [f"{'  ' * depth}{tree.label}  {tree.count}"]
    for child in tree.children:
        lines.extend(tree_lines(child, depth + 1))
    return lines


def tree_json(tree: LabelTree) -> dict[str, Any]:
    """The tree as nested objects: label, count, direct, children."""
    return {
        "label": tree.label,
        "count": tree.count,
        "direct": tree.direct,
        "children": [tree_json(child) for child in tree.children],
    }


def counts_table(rows: Sequence[LabelCount], title: str) -> Table:
    """`imgclf labels` as a table: label, items (under it included), items labelled it."""
    table = Table(title=title)
    table.add_column("label")
    table.add_column("count", justify="right")
    table.add_column("direct", justify="right")
    for row in rows:
        table.add_row(cell(row.label), str(row.count), str(row.direct))
    return table


def counts_json(rows: Sequence[LabelCount]) -> str:
    """`imgclf labels --format json`: a list of {label, count, direct}, most items first."""
    return json.dumps(
        [{"label": row.label, "count": row.count, "direct": row.direct} for row in rows],
        indent=2,
    )
