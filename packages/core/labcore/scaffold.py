"""``lab new codebase NAME``: write a new OpenLab codebase, ready to install.

The generated distribution follows the layout of OpenLab's own codebases
(docs/architecture.md): a pyproject with the ``openlab.codebases`` entry point, the
:class:`labcore.codebase.Codebase` declaration, a registry, a small model, a dataset on
labcore's synthetic shapes, a metric, the inference API, a tiny config with its
metafile, a tiny protocol of its own, tests and a README. ``pip install -e`` it into
OpenLab's environment and ``lab train``, ``lab infer`` and ``labbench`` know it.

The files come from ``labcore/templates/codebase``; ``@@name``, ``@@Name``, ``@@task``
and ``@@description`` in them are replaced, and ``PKG`` in a path becomes the name.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import string
from pathlib import Path

from labcore.errors import LabError

TEMPLATES = Path(__file__).parent / "templates"
#: what ``--task`` offers: the template each task starts from
TASKS = {"image-classification": "codebase"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ScaffoldError(LabError):
    """A new codebase cannot be written under that name or in that place."""


class _Template(string.Template):
    delimiter = "@@"


def check_name(name: str) -> None:
    """Refuse names that are not valid package names or that clash with an installed
    codebase or module (``import NAME`` must find the new codebase and nothing else)."""
    from labcore.codebase import discover_codebases

    if not _NAME.match(name) or keyword.iskeyword(name):
        raise ScaffoldError(
            f"'{name}' is not a valid codebase name: use a lowercase Python package name "
            f"(letters, digits, underscores, starting with a letter), e.g. 'labdepth'."
        )
    if name in discover_codebases():
        raise ScaffoldError(f"A codebase named '{name}' is already installed; choose another name.")
    if importlib.util.find_spec(name) is not None:
        raise ScaffoldError(
            f"'{name}' is already an importable module here, so `import {name}` would not "
            f"find the new codebase; choose another name."
        )


def create_codebase(
    name: str, *, task: str = "image-classification", out: str | Path = ".", description=None
) -> Path:
    """Write the codebase ``name`` into ``out/name`` and return that folder.

    Raises:
        ScaffoldError: a bad or clashing name, an unknown task, or a folder that exists.
    """
    check_name(name)
    if task not in TASKS:
        raise ScaffoldError(f"Unknown task '{task}'; choose one of {', '.join(TASKS)}.")
    target = Path(out) / name
    if target.exists():
        raise ScaffoldError(f"'{target}' already exists; remove it or choose another --out.")
    values = dict(
        name=name,
        Name="".join(part.capitalize() for part in name.split("_")),
        task=task,
        description=description or f"{task.replace('-', ' ')} on OpenLab",
    )
    source = TEMPLATES / TASKS[task]
    for template in sorted(source.rglob("*.tmpl")):
        relative = template.relative_to(source).with_suffix("")  # drop .tmpl
        parts = [part.replace("PKG", name) for part in relative.parts]
        if relative.name == "protocol.yaml":
            parts[-1] = f"{name}-shapes-tiny.yaml"
        path = target.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_Template(template.read_text()).substitute(values))
    return target
