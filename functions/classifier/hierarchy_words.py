"""The query side of a label hierarchy: which node a word a person types names.

`imgclf results --label WORD`, `imgclf labels --tree WORD`, the day-0 mapper and the
DetectLabels output read labels through these; the function's per-image path never does
(it names nodes by `LabelHierarchy.find`). Built once per hierarchy, lazily.

Pure: the standard library only.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from . import word_forms

if TYPE_CHECKING:
    from .hierarchy import LabelHierarchy, Node


@dataclass(frozen=True, eq=False)
class HierarchyWords:
    """A hierarchy's words: its labels, its hidden nodes that have labels under them, their
    other spellings and WordNet lemmas, and its node ids."""

    hierarchy: LabelHierarchy

    def search(self, word: str) -> Node | None:
        """The node a query word names: a node id as the mapper prints it ("n02084071"),
        else a label (`find`), else a node hidden from labelling (too general or too rare a
        word to label an image: dinosaur, hamburger, structure) that has labels under it,
        which a query reads through them (of two hidden nodes of one name, the one with more
        ImageNet classes under it), else a label spelled without its spaces or hyphens
        ("cell phone" for cellphone); then the same for the word's singular forms ("dogs",
        "butterflies", "mice"); last, such a hidden node by another of its WordNet lemmas
        (`_hidden_by_lemma`). Underscores are spaces, as in the folder names of trained
        labels ("musical_instrument")."""
        by_id = self._by_id.get(word.strip().lower())
        if by_id is not None:
            return by_id
        word = word.replace("_", " ")  # a folder's label name: "musical_instrument"
        forms = (word_forms.normalised(word), *word_forms.singulars(word))
        for form in forms:
            found = (
                self.hierarchy.find(form)
                or self._hidden_by_name.get(form)
                or self._by_squashed.get(word_forms.squashed(form))
            )
            if found is not None:
                return found
        return next((self._hidden_by_lemma[f] for f in forms if f in self._hidden_by_lemma), None)

    @cached_property
    def _by_id(self) -> dict[str, Node]:
        """The visible nodes and the hidden ones with labels under them, by id."""
        nodes = self.hierarchy.nodes
        queryable = [*self.hierarchy.visible, *(nodes[n] for n in self._hidden_over_classes)]
        return {node.id.lower(): node for node in queryable}

    @cached_property
    def _by_squashed(self) -> dict[str, Node]:
        index: dict[str, Node] = {}
        for node in self.hierarchy.visible:  # names first, then aliases
            index.setdefault(word_forms.squashed(node.name), node)
        for node in self.hierarchy.visible:
            for alias in node.aliases:
                index.setdefault(word_forms.squashed(alias), node)
        return index

    @cached_property
    def _hidden_over_classes(self) -> dict[str, int]:
        """Each hidden node with ImageNet classes under it: how many."""
        nodes, ancestors = self.hierarchy.nodes, self.hierarchy.ancestors
        under: dict[str, int] = {}
        for class_id in self.hierarchy.class_ids:
            for node_id in ancestors[class_id]:
                if nodes[node_id].hidden:
                    under[node_id] = under.get(node_id, 0) + 1
        return under

    @cached_property
    def _hidden_by_name(self) -> dict[str, Node]:
        under = self._hidden_over_classes
        index: dict[str, Node] = {}
        for node_id in sorted(under, key=lambda n: -under[n]):
            index.setdefault(
                self.hierarchy.nodes[node_id].name.lower(), self.hierarchy.nodes[node_id]
            )
        return index

    @cached_property
    def _hidden_by_lemma(self) -> dict[str, Node]:
        """Hidden nodes with labels under them by their other WordNet lemmas ("transport",
        "gun dog", "hoofed mammal"): a lemma's first sense that is one, as the mapper
        places a name."""
        senses = self.hierarchy.extra.get("senses", {})
        index: dict[str, Node] = {}
        for lemma, node_ids in senses.items() if isinstance(senses, Mapping) else ():
            first = next((n for n in node_ids if n in self._hidden_over_classes), None)
            if first is not None:
                index[str(lemma).lower()] = self.hierarchy.nodes[first]
        return index

    def suggest(self, word: str, count: int = 3) -> list[str]:
        """Label names close to a word that names none: a category spelled almost alike
        ("Vehicle and Automotive"), then those sharing its words, most shared then most alike
        first ("beer" -> beer glass, beer bottle; "police car" -> police van, race car), then
        those spelled alike."""
        wanted = {
            token: {token, *word_forms.singulars(token)}
            for token in word_forms.normalised(word).split()
        }
        labelled = self.hierarchy.labelled
        names = [node.name for node in labelled]
        shared = {
            name: sum(1 for forms in wanted.values() if forms & set(name.lower().split()))
            for name in names
        }
        query = word.lower()
        categories = {name.lower(): name for name in self._categories}
        found = [categories[c] for c in difflib.get_close_matches(query, list(categories), 1, 0.85)]
        found += sorted(
            (n for n in names if shared[n]),
            key=lambda n: (-shared[n], -difflib.SequenceMatcher(None, query, n.lower()).ratio()),
        )[:count]
        aliases = {alias.lower(): node.name for node in labelled for alias in node.aliases}
        by_lower = {name.lower(): name for name in names}
        for close in difflib.get_close_matches(word.lower(), list(by_lower), count, 0.6):
            found.append(by_lower[close])
        for alias in difflib.get_close_matches(word.lower(), list(aliases), count, 0.75):
            found.append(aliases[alias])
        return list(dict.fromkeys(found))[:count]

    def descendants(self, word: str) -> tuple[str, ...]:
        """The names of the node a word names (`search`: a label, a hidden node, or a node
        id) and of every visible label under it (ids through hidden nodes count), the
        node's name first."""
        node = self.search(word)
        if node is None:
            return ()
        ancestors = self.hierarchy.ancestors
        below = [n.name for n in self.hierarchy.visible if node.id in ancestors[n.id]]
        return (node.name, *sorted(below))

    def category(self, word: str) -> tuple[str, tuple[str, ...]] | None:
        """A DetectLabels-style category a word names, in any case ("animals and pets"), as
        (its name, the visible labels in it: each label's own categories, else its nearest
        categorised ancestor's); None when the word names no category."""
        key = word_forms.normalised(word)
        for name, members in self._categories.items():
            if name.lower() == key:
                return name, members
        return None

    @cached_property
    def _categories(self) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = {}
        for node in self.hierarchy.visible:
            for name in self.hierarchy.categories_of(node):
                found.setdefault(name, []).append(node.name)
        return {name: tuple(sorted(members)) for name, members in found.items()}
