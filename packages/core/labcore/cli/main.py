"""The ``lab`` command.

Each sub-command lives in its own module ``labcore.cli.<name>`` that defines
``add_arguments(parser)`` and ``run(args) -> int``, plus a one-line module docstring
used as its help. Errors a user can cause (:class:`labcore.errors.LabError`) are
printed as one clear message with exit status 2; ``--debug`` shows the traceback too.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import sys
from pathlib import Path

from labcore.errors import LabError

COMMANDS = ["train", "test", "info", "data", "analyze", "convert", "zoo", "infer", "sync", "new"]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``lab`` parser with every command, or with the command ``only`` alone (then
    only that command's module is imported, which keeps start-up short)."""
    parser = argparse.ArgumentParser(prog="lab", description="OpenLab command line")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in [only] if only else COMMANDS:
        module = importlib.import_module(f"labcore.cli.{name.replace('-', '_')}")
        doc = (module.__doc__ or "").strip().splitlines()[0]
        command = sub.add_parser(
            name,
            help=doc,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def overview_parser() -> argparse.ArgumentParser:
    """The ``lab`` parser that lists every command with its help line, read from the
    commands' docstrings without importing them: what ``lab --help`` (and ``lab`` with
    no or an unknown command) needs, in a few milliseconds."""
    parser = argparse.ArgumentParser(prog="lab", description="OpenLab command line")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        spec = importlib.util.find_spec(f"labcore.cli.{name.replace('-', '_')}")
        doc = ast.get_docstring(ast.parse(Path(spec.origin).read_text())) or ""
        sub.add_parser(name, help=(doc.strip().splitlines() or [""])[0])
    return parser


def _command_name(argv: list[str]) -> str | None:
    """The command named in ``argv`` (the first argument that is not an option)."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command_name(argv)
    parser = build_parser(only=command) if command else overview_parser()
    args = parser.parse_args(argv)
    args._argv = argv  # a command that must run again in a new process (--reproducible)
    try:
        return int(args._run(args) or 0)
    except LabError as err:
        if args.debug:
            raise
        print(f"lab {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lab {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        if "torch.distributed" in sys.modules:  # a command that started a process group
            from labcore.engine.dist import shutdown_dist

            shutdown_dist()


if __name__ == "__main__":
    sys.exit(main())
