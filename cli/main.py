"""imgclf console script (placeholder until the local-environment issue fills it in)."""

import sys


def main(argv: list[str] | None = None) -> int:
    print("imgclf: not yet", file=sys.stderr)
    return 1
