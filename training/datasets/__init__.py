"""Data sets: Animals-10's label mapping and two generators that need no download."""
