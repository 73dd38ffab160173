"""The import rules of docs/architecture.md, checked on every source file of the repo:

labbench        ->  codebases only through the ``openlab.codebases`` entry points
labcls, labdet  ->  labcore (never each other, never labbench)
labcore         ->  mmengine, torch, torchvision, labcore._C (never a codebase)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CODEBASES = sorted(
    p.parent.name
    for p in (REPO / "packages").glob("*/*/__init__.py")
    if p.parent.name != "labcore" and (p.parents[1] / "pyproject.toml").is_file()
)
PACKAGES = {
    "labcore": REPO / "packages" / "core" / "labcore",
    "labbench": REPO / "benchmark" / "labbench",
    **{name: next((REPO / "packages").glob(f"*/{name}")) for name in CODEBASES},
}


def forbidden_imports(package: str) -> set[str]:
    """The top-level names that ``package``'s source may not import."""
    if package == "labcore":
        return {"labbench", *CODEBASES}
    if package == "labbench":
        return set(CODEBASES)
    return {"labbench", *(c for c in CODEBASES if c != package)}


def imported_top_level_names(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) of every absolute import in the file at ``path``."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append((node.lineno, node.module.split(".")[0]))
    return names


def test_the_repo_has_the_packages_the_rules_name():
    assert {"labcls", "labdet"} <= set(CODEBASES)
    assert all(folder.is_dir() for folder in PACKAGES.values())


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_imports_only_what_the_architecture_allows(package):
    forbidden = forbidden_imports(package)
    broken = [
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for path in sorted(PACKAGES[package].rglob("*.py"))
        for line, name in imported_top_level_names(path)
        if name in forbidden
    ]
    assert not broken, (
        f"{package} may not import {sorted(forbidden)} (docs/architecture.md); move what "
        f"both need into labcore, or reach codebases through entry points:\n" + "\n".join(broken)
    )


def test_the_check_finds_a_forbidden_import(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("import os\nfrom labdet.models import RetinaNet\n")
    assert ("labdet" in forbidden_imports("labcls")) and (2, "labdet") in (
        imported_top_level_names(source)
    )
