"""The import rules of docs/architecture.md, checked on every source file of the repo:

labbench   ->  codebases only through the ``openlab.codebases`` entry points
a codebase ->  labcore, and the codebases its pyproject declares as dependencies
               (labrot -> labdet); never labbench; the declared edges have no cycle
labcore    ->  mmengine, torch, torchvision, labcore._C (never a codebase)

Imports are ``import``/``from`` statements and ``importlib.import_module(...)`` /
``__import__(...)`` calls whose module name is a string (or an f-string that starts with
the package name).
"""

from __future__ import annotations

import ast
import graphlib
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _distributions() -> dict[str, Path]:
    """Every codebase in the repo (a distribution under packages/ other than labcore),
    by import name, mapped to its distribution folder."""
    found = {}
    for pyproject in sorted((REPO / "packages").glob("*/pyproject.toml")):
        packages = [p.parent.name for p in pyproject.parent.glob("*/__init__.py")]
        for name in packages:
            if name != "labcore":
                found[name] = pyproject.parent
    return found


DISTRIBUTIONS = _distributions()
CODEBASES = sorted(DISTRIBUTIONS)
PACKAGES = {
    "labcore": REPO / "packages" / "core" / "labcore",
    "labbench": REPO / "benchmark" / "labbench",
    **{name: folder / name for name, folder in DISTRIBUTIONS.items()},
}


def declared_codebase_dependencies(codebase: str) -> set[str]:
    """The codebases that ``codebase``'s pyproject lists in ``project.dependencies``."""
    pyproject = tomllib.loads((DISTRIBUTIONS[codebase] / "pyproject.toml").read_text())
    names = {
        re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].strip()
        for requirement in pyproject.get("project", {}).get("dependencies", [])
    }
    return names & set(CODEBASES)


def forbidden_imports(package: str) -> set[str]:
    """The top-level names that ``package``'s source may not import."""
    if package == "labcore":
        return {"labbench", *CODEBASES}
    if package == "labbench":
        return set(CODEBASES)
    allowed = declared_codebase_dependencies(package) | {package}
    return {"labbench", *(c for c in CODEBASES if c not in allowed)}


def _literal_module(node: ast.expr) -> str | None:
    """The module named by a string or by an f-string's leading text."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def imported_top_level_names(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) of every absolute import in the file at ``path``,
    including ``importlib.import_module``/``__import__`` calls with a literal name."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append((node.lineno, node.module.split(".")[0]))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            module = _literal_module(node.args[0])
            if called in ("import_module", "__import__") and module:
                names.append((node.lineno, module.split(".")[0]))
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
        f"{package} may not import {sorted(forbidden)} (docs/architecture.md): move what "
        f"both need into labcore, declare the codebase it builds on in its pyproject "
        f"dependencies, or reach codebases through entry points:\n" + "\n".join(broken)
    )


def test_declared_codebase_edges_have_no_cycle():
    graph = {name: declared_codebase_dependencies(name) for name in CODEBASES}
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError on a cycle


def test_the_check_finds_forbidden_and_dynamic_imports(tmp_path):
    source = tmp_path / "module.py"
    source.write_text(
        "import importlib\nfrom labdet.models import RetinaNet\n"
        "importlib.import_module('labdet.apis')\nimportlib.import_module(f'labseg.{x}')\n"
    )
    found = imported_top_level_names(source)
    assert "labdet" in forbidden_imports("labcls")
    assert {(2, "labdet"), (3, "labdet"), (4, "labseg")} <= set(found)


def test_a_declared_dependency_is_allowed_and_an_undeclared_one_is_not():
    for codebase in CODEBASES:
        declared = declared_codebase_dependencies(codebase)
        assert not (declared & forbidden_imports(codebase))
        assert "labcore" not in forbidden_imports(codebase)
    if "labrot" in CODEBASES:
        assert declared_codebase_dependencies("labrot") == {"labdet"}
        assert "labrot" in forbidden_imports("labdet")
