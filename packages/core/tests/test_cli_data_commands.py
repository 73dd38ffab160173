"""Data commands that codebases add to ``lab data`` (``Codebase.data_commands``)."""

from __future__ import annotations

import argparse
import sys

import pytest

from labcore.cli import data
from labcore.cli.main import build_parser, main
from labcore.codebase import (
    Codebase,
    CodebaseError,
    DataCommand,
    discover_codebases,
    discover_data_commands,
)


def test_every_declared_data_command_loads_and_is_listed(capsys):
    commands = discover_data_commands()
    for name, (codebase, command) in commands.items():
        assert command in codebase.data_commands and command.name == name
        add_arguments, run = command.load(codebase.name)
        assert callable(add_arguments) and callable(run)
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "--help"])
    assert exit_info.value.code == 0
    listed = capsys.readouterr().out
    assert "shapes" in listed
    for name, (codebase, _) in commands.items():
        assert name in listed and f"({codebase.name})" in listed


def test_codebases_without_data_commands_declare_none():
    assert Codebase(name="demo", apis="demo.apis").data_commands == ()
    without = [c for c in discover_codebases().values() if not c.data_commands]
    assert all(c.data_commands == () for c in without)
    # lab data shapes parses as before, whatever codebases add
    parser = argparse.ArgumentParser(prog="lab data")
    data.add_arguments(parser)
    args = parser.parse_args(["shapes", "--task", "det", "--out", "x"])
    assert (args.dataset, args.task, getattr(args, "_data_run", None)) == ("shapes", "det", None)


def test_a_data_command_module_is_imported_only_when_it_runs(monkeypatch):
    modules = [command.module for _, command in discover_data_commands().values()]
    for module in modules:
        monkeypatch.delitem(sys.modules, module, raising=False)
    build_parser(only="data").parse_args(["data", "shapes", "--task", "det", "--out", "x"])
    assert [m for m in modules if m in sys.modules] == []


def test_a_bad_declaration_is_named():
    with pytest.raises(CodebaseError, match="'demo'.*'split'.*labcore.errors.*add_arguments"):
        DataCommand(name="split", module="labcore.errors").load("demo")
    with pytest.raises(CodebaseError, match="'labcore.no_such_module', which does not exist"):
        DataCommand(name="split", module="labcore.no_such_module").load("demo")
