"""How people type a label's word: the forms a query word may take besides the label's own.

Pure and small: the hierarchy's names are singular nouns in WordNet's spelling, and a query
word may be a plural ("dogs", "butterflies", "mice") or spelled with or without a space or
a hyphen ("cell phone" for "cellphone", "tshirt" for "T-shirt").
"""

from __future__ import annotations

# English plurals that no suffix rule undoes (WordNet's noun.exc, for the everyday ones).
IRREGULAR_PLURALS = {
    "children": "child",
    "feet": "foot",
    "geese": "goose",
    "lice": "louse",
    "men": "man",
    "mice": "mouse",
    "oxen": "ox",
    "people": "person",
    "teeth": "tooth",
    "women": "woman",
}
# Suffix rules, tried in order: butterflies -> butterfly, wolves -> wolf, boxes -> box,
# dogs -> dog. Each is only a candidate; the hierarchy decides which one names a label.
_SUFFIXES = (("ies", "y"), ("ves", "f"), ("ves", "fe"), ("es", ""), ("s", ""))


def normalised(word: str) -> str:
    """Lower case, single spaces, no spaces at the ends."""
    return " ".join(word.lower().split())


def label_key(name: str) -> str:
    """A label name as a search reads it: any case, underscores as spaces, single spaces
    ("Musical_Instrument" and "musical instrument" are one label)."""
    return normalised(name.replace("_", " "))


def squashed(word: str) -> str:
    """A spelling with no spaces or hyphens: "cell phone", "cell-phone" -> "cellphone"."""
    return "".join(c for c in normalised(word) if c not in " -")


def singulars(word: str) -> list[str]:
    """The singular forms a plural query word may stand for, most likely first; the last word
    of several is the one made singular ("coffee mugs" -> "coffee mug"). None for a word
    that is no plural by these rules."""
    text = normalised(word)
    head, _, last = text.rpartition(" ")
    prefix = f"{head} " if head else ""
    forms: list[str] = []
    if last in IRREGULAR_PLURALS:
        forms.append(IRREGULAR_PLURALS[last])
    for suffix, replacement in _SUFFIXES:
        if last.endswith(suffix) and len(last) > len(suffix) + 1 and not last.endswith("ss"):
            forms.append(last[: -len(suffix)] + replacement)
    return [prefix + form for form in dict.fromkeys(forms)]
