"""Every command in the guides is checked against the real programs.

The shell blocks (```bash) of docs/*.md and README.md are read, line continuations
joined, comments and environment assignments dropped. Then, for each command:

- ``lab ...`` and ``labbench ...`` are parsed by the commands' own argument parsers, so a
  renamed command or option fails here; every ``pkg::path`` config they name must exist,
  and so must every repository path (``projects/...``, ``packages/...``);
- ``nox -s NAME`` must name a session of noxfile.py;
- the commands that are quick and need no data (``lab info``, ``lab zoo list``,
  ``labbench --list``, ``--help``) are run for real.

The commands that train (``lab train``, ``labbench`` sweeps, ``lab new codebase`` with its
install) are run by the tests of their features (test_cli_train.py, test_cli_new.py, the
harness tests) and by CI's dry run of the benchmark.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIDES = sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]
BIN = Path(sys.executable).parent
RUN_FOR_REAL = {("lab", "info"), ("lab", "zoo", "list"), ("labbench", "--list")}
_BLOCK = re.compile(r"^```(?:bash|sh|shell)\n(.*?)^```", re.M | re.S)
_OPTIONAL = re.compile(r"\s\[[^\]]*\]")
_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")


def guide_commands() -> list[tuple[str, int, list[str]]]:
    """(guide, line, argv) of every command in the guides' shell blocks."""
    found = []
    for guide in GUIDES:
        text = guide.read_text()
        for block in _BLOCK.finditer(text):
            first_line = text[: block.start()].count("\n") + 2
            lines = block.group(1).replace("\\\n", " ").splitlines()
            for offset, line in enumerate(lines):
                line = _OPTIONAL.sub("", line.split(" #")[0]).strip()  # synopsis [--opt X]
                if not line or line.startswith("#"):
                    continue
                for part in line.split("&&"):
                    argv = shlex.split(part)
                    while argv and _ASSIGNMENT.match(argv[0]):
                        argv.pop(0)
                    if argv:
                        argv[0] = Path(argv[0]).name  # .venv/bin/lab -> lab
                        found.append((guide.name, first_line + offset, argv))
    return found


COMMANDS = guide_commands()


def _created_by_the_guides() -> set[str]:
    """Folders a guide's ``lab new codebase NAME --out DIR`` writes (DIR/NAME)."""
    created = set()
    for _, _, argv in COMMANDS:
        if argv[:3] == ["lab", "new", "codebase"] and len(argv) > 3:
            out = argv[argv.index("--out") + 1] if "--out" in argv else "."
            created.add(str(Path(out) / argv[3]))
    return created


CREATED = _created_by_the_guides()


def _nox_sessions() -> set[str]:
    tree = ast.parse((REPO / "noxfile.py").read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                call = decorator if isinstance(decorator, ast.Call) else None
                target = call.func if call else decorator
                if getattr(target, "attr", "") == "session":
                    name = next((k.value.value for k in (call.keywords if call else [])
                                 if k.arg == "name"), node.name)  # fmt: skip
                    names.add(name)
    return names


def _check_paths(argv: list[str]) -> None:
    from labcore.engine.config import resolve_config_path

    for arg in argv[1:]:
        if "::" in arg and not arg.startswith("-"):
            resolve_config_path(arg)  # raises ConfigError naming the closest configs
        elif arg.startswith(("projects/", "packages/", "benchmark/")) and "*" not in arg:
            created = any(word in argv for word in ("--out", "--work-dir"))
            created = created or any(arg.startswith(folder) for folder in CREATED)
            assert created or (REPO / arg).exists(), f"{arg} does not exist in the repository"


def test_the_guides_have_commands():
    programs = {argv[0] for _, _, argv in COMMANDS}
    assert {"lab", "labbench", "nox"} <= programs, programs


@pytest.mark.parametrize("argv", [c[2] for c in COMMANDS], ids=[f"{g}:{n}" for g, n, _ in COMMANDS])
def test_command_parses_and_names_what_exists(argv):
    program = argv[0]
    if program == "lab":
        from labcore.cli.main import _command_name, build_parser

        parser = build_parser(only=_command_name(argv[1:]))
        if "--help" not in argv and "-h" not in argv:
            parser.parse_args(argv[1:])
        _check_paths(argv)
    elif program == "labbench":
        from labbench.cli import build_parser

        build_parser().parse_args(argv[1:])
        _check_paths(argv)
    elif program == "nox":
        sessions = _nox_sessions()
        for index, arg in enumerate(argv):
            if arg == "-s":
                assert argv[index + 1] in sessions, f"no nox session {argv[index + 1]!r}"
    else:
        _check_paths(argv)


@pytest.mark.parametrize("argv", sorted(RUN_FOR_REAL))
def test_quick_commands_run(argv, tmp_path):
    assert any(tuple(c[2]) == argv for c in COMMANDS), f"{argv} is no longer in the guides"
    done = subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True,
                          cwd=REPO, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
