"""Create a new codebase that follows OpenLab's layout, ready to pip-install.

lab new codebase labdepth --task image-classification --out packages/
pip install -e packages/labdepth && pytest packages/labdepth/tests
labbench --list            # shows convnet_tiny_shapes under labdepth-shapes-tiny
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from labcore.scaffold import TASKS

    parser.add_argument("kind", choices=["codebase"], help="what to create")
    parser.add_argument("name", help="the codebase's import name (= registry scope)")
    parser.add_argument("--task", default="image-classification", choices=sorted(TASKS))
    parser.add_argument("--out", type=Path, default=Path("."), help="parent folder")
    parser.add_argument("--description", help="one line on what the codebase is for")


def run(args: argparse.Namespace) -> int:
    from labcore.scaffold import create_codebase

    folder = create_codebase(args.name, task=args.task, out=args.out, description=args.description)
    print(f"wrote the codebase {args.name} in {folder}")
    print(f"next: pip install -e {folder} && pytest {folder / 'tests'}")
    return 0
