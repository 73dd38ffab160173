"""Generate synthetic data sets (shapes) in real on-disk formats.

    lab data shapes --task det --out data/shapes_det --num-train 500 --image-size 128

writes COCO JSON and JPEG images ('det', 'pose'), ImageNet-style folders ('cls') or PNG
label maps ('seg'); the same arguments always give byte-identical files.

Codebases add their own data commands (labrot: ``lab data split-dota``) by declaring
:class:`labcore.codebase.DataCommand` objects; ``lab data --help`` lists them and a
command's module is imported only when it runs.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from labcore.cli.progress import counting_progress
from labcore.codebase import CodebaseError, DataCommand, discover_data_commands
from labcore.datasets.synthetic import (
    DEFAULT_SIZES,
    DEFAULT_VERSION,
    MANIFEST_NAME,
    TASKS,
    VERSIONS,
    generate_shapes,
)


class _CodebaseCommandParser(argparse.ArgumentParser):
    """The parser of a codebase's data command: its module adds the arguments when the
    command is parsed (or its help shown), so other commands never import it."""

    def __init__(self, *args, data_command: tuple[str, DataCommand] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._data_command = data_command

    def _load(self) -> None:
        if self._data_command is not None:
            codebase, command = self._data_command
            self._data_command = None
            add_arguments, run = command.load(codebase)
            add_arguments(self)
            self.set_defaults(_data_run=run)
            self.description = importlib.import_module(run.__module__).__doc__ or self.description

    def parse_known_args(self, args=None, namespace=None):
        self._load()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._load()
        return super().format_help()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(
        dest="dataset", required=True, metavar="DATASET", parser_class=_CodebaseCommandParser
    )
    shapes = sub.add_parser(
        "shapes",
        help="images of coloured shapes over textured backgrounds",
        description=(
            "Generate the synthetic shapes data set. Default sizes per task: "
            + "; ".join(
                f"{task}: {s['num_train']} train / {s['num_val']} val, {s['image_size']}px"
                for task, s in DEFAULT_SIZES.items()
            )
        ),
    )
    shapes.add_argument("--task", required=True, choices=TASKS, help="which annotations to write")
    shapes.add_argument("--out", required=True, type=Path, help="new or empty output folder")
    shapes.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    shapes.add_argument(
        "--version",
        type=int,
        default=DEFAULT_VERSION,
        help=(
            f"generator version (default {DEFAULT_VERSION}; known: "
            f"{', '.join(map(str, sorted(VERSIONS)))})"
        ),
    )
    shapes.add_argument("--num-train", type=int, default=None, help="training images")
    shapes.add_argument("--num-val", type=int, default=None, help="validation images")
    shapes.add_argument("--image-size", type=int, default=None, help="image side in pixels")
    shapes.add_argument("--quiet", action="store_true", help="no progress bar")
    for name, (codebase, command) in discover_data_commands().items():
        if name in sub.choices:
            raise CodebaseError(
                f"Codebase '{codebase.name}' declares the data command '{name}', which "
                f"`lab data` has already; rename it."
            )
        sub.add_parser(
            name,
            help=f"{command.help} ({codebase.name})",
            description=command.help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            data_command=(codebase.name, command),
        )


def run(args: argparse.Namespace) -> int:
    if getattr(args, "_data_run", None) is not None:
        return int(args._data_run(args) or 0)
    kwargs = {
        "seed": args.seed,
        "version": args.version,
        "num_train": args.num_train,
        "num_val": args.num_val,
        "image_size": args.image_size,
    }
    if args.quiet:
        root = generate_shapes(args.task, args.out, **kwargs)
    else:
        with counting_progress() as bar:
            bars = {}

            def progress(split: str, done: int, total: int) -> None:
                if split not in bars:
                    bars[split] = bar.add_task(f"shapes {args.task} {split}", total=total)
                bar.update(bars[split], completed=done)

            root = generate_shapes(args.task, args.out, progress=progress, **kwargs)
    _print_summary(root)
    return 0


def _print_summary(root: Path) -> None:
    files = [path for path in sorted(root.rglob("*")) if path.is_file()]
    by_suffix: dict[str, int] = {}
    for path in files:
        by_suffix[path.suffix] = by_suffix.get(path.suffix, 0) + 1
    total_bytes = sum(path.stat().st_size for path in files)
    counts = ", ".join(f"{n} {suffix or 'other'}" for suffix, n in sorted(by_suffix.items()))
    print(f"Wrote {len(files)} files ({counts}; {total_bytes / 1e6:.1f} MB) to {root}")
    for path in files:
        in_annotation_folder = path.parent == root or path.parent.name in ("annotations", "meta")
        if path.suffix in (".json", ".txt") and in_annotation_folder and path.name != MANIFEST_NAME:
            print(f"  {path.relative_to(root)}")
    print(f"  manifest: {root / MANIFEST_NAME}")
