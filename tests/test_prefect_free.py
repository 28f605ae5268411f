"""The library is Prefect-free: only its Prefect edges import Prefect, so the rest is unit-testable alone."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cutover"
EDGES = ("orchestration/", "cli/", "api/jobs.py")
"""The Prefect side of operations, the CLI's Prefect commands, the API's job runner."""


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_edges_import_prefect() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if not str(path.relative_to(PACKAGE)).startswith(EDGES)
        and {"prefect", "prefect_sqlalchemy", "prefect_azure"} & _imports(path)
    ]
    assert not offenders, f"library modules importing Prefect: {offenders}"
