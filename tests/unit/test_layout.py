"""House rules on how the packages use each other."""

from __future__ import annotations

import ast
from pathlib import Path

import infra.local

ROOT = Path(__file__).resolve().parents[2]


def imports_from(path: Path) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


def test_the_cli_uses_the_local_environments_public_names_only() -> None:
    # The CLI (imgclf/) imports `infra.local`, never one of its submodules, and only names
    # the package lists in __all__
    offenders = []
    for path in sorted((ROOT / "imgclf").rglob("*.py")):
        for module, names in imports_from(path):
            where = f"{path.relative_to(ROOT)}: {module}"
            if module.startswith("infra.local."):
                offenders.append(where)
            elif module == "infra.local":
                offenders += [f"{where}.{n}" for n in names if n not in infra.local.__all__]
    assert offenders == []


def test_the_data_sets_import_nothing_of_training_above_them() -> None:
    # training.data (the folder loader) uses training.datasets (Animals-10's labels), so a data
    # set importing training.data or anything that reaches it would close a loop; the shared
    # fingerprint sits below both
    allowed = ("training.datasets", "training.data_fingerprint")
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / "training" / "datasets").rglob("*.py"))
        for module, _ in imports_from(path)
        if module.split(".")[0] == "training" and not module.startswith(allowed)
    ]
    assert offenders == []


def test_the_cdk_app_never_imports_the_local_environment() -> None:
    # infra/local/ is the stack's other target, built from the same definitions; the CDK app
    # (app.py, stack.py, constructs/) must synthesize without it
    app = [ROOT / "infra" / "app.py", ROOT / "infra" / "stack.py"]
    app += sorted((ROOT / "infra" / "constructs").rglob("*.py"))
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in app
        for module, _ in imports_from(path)
        if module == "infra.local" or module.startswith("infra.local.")
    ]
    assert offenders == []
    assert len(app) > 3  # the walk found the constructs
