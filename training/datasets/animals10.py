"""Animals-10: its ten classes and the Italian folder names it ships with."""

from __future__ import annotations

from collections.abc import Iterable

# Animals-10 as downloaded keeps Italian folder names (raw-img/cane, raw-img/gatto, ...).
ITALIAN_TO_ENGLISH: dict[str, str] = {
    "cane": "dog",
    "cavallo": "horse",
    "elefante": "elephant",
    "farfalla": "butterfly",
    "gallina": "chicken",
    "gatto": "cat",
    "mucca": "cow",
    "pecora": "sheep",
    "scoiattolo": "squirrel",
    "ragno": "spider",
}
LABELS: tuple[str, ...] = tuple(sorted(ITALIAN_TO_ENGLISH.values()))


def has_animals10(labels: Iterable[str]) -> bool:
    """Whether a label set holds the ten Animals-10 labels (and so the sets built for them)."""
    return set(LABELS) <= set(labels)


def english_label(folder_name: str) -> str:
    """The label for a class folder: Animals-10's Italian names become English, others stay."""
    key = folder_name.strip().lower()
    return ITALIAN_TO_ENGLISH.get(key, folder_name.strip())
