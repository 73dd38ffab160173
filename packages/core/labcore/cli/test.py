"""Evaluate a checkpoint on the test set of a config.

    lab test labcls::resnet/resnet18_tiny_shapes.py work_dirs/r18/epoch_10.pth
    lab test CONFIG zoo://NAME --out metrics.json --cfg-options test_dataloader.batch_size=64

The checkpoint may be a path, a ``.safetensors`` file, an http(s) URL or ``zoo://NAME``.
Its weights must fit the config's model: missing or unexpected keys are named and
refused, since metrics of a partly random model would look like results;
``--allow-partial`` loads what fits on purpose, with a warning that names the rest.
Prints the metrics as JSON on the last line of standard output.

With ``zoo://NAME`` the metrics are also compared with the ones NAME's entry records
(:mod:`labcore.zoo.compare`): an imported entry's published metrics (each next to the
measured value converted to the upstream's scale, e.g. OpenLab's fractions x 100 for
published percentages, the difference, and the link where the upstream states them), a
trained entry's means over seeds. A table precedes the JSON, and the JSON (and
``--out``) holds the comparison under ``zoo_comparison``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mmengine.model import is_model_wrapper

from labcore.cli.train import add_common_arguments, load_config_from_args
from labcore.engine.checkpoint import load_state_dict, read_checkpoint
from labcore.engine.training import build_runner, close_failed_run
from labcore.errors import CheckpointError
from labcore.zoo.scheme import PREFIX as ZOO_PREFIX


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="config file or pkg::rel/path.py")
    parser.add_argument("checkpoint", help="checkpoint file or http(s) URL")
    parser.add_argument("--out", type=Path, help="also write the metrics to this JSON file")
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="evaluate even when some checkpoint keys do not fit the model (named in a warning)",
    )
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if "://" not in args.checkpoint and not Path(args.checkpoint).is_file():
        raise CheckpointError(
            f"Checkpoint '{args.checkpoint}' does not exist. Give the path of a .pth file "
            f"from a training work dir (e.g. work_dirs/<config>/epoch_N.pth)"
            f"{_zoo_hint(args.checkpoint)}."
        )
    cfg = load_config_from_args(args)
    cfg.load_from = None  # loaded below, with OpenLab's strictness rule
    cfg.resume = False
    runner = build_runner(cfg, work_dir=args.work_dir, launcher=args.launcher)
    try:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        checkpoint = read_checkpoint(args.checkpoint)
        load_state_dict(
            model, checkpoint.state_dict, strict=not args.allow_partial, source=checkpoint.source
        )
        metrics = runner.test()
    except BaseException:
        close_failed_run(runner)
        raise
    result = {k: _plain(v) for k, v in metrics.items()}
    if args.checkpoint.startswith(ZOO_PREFIX):
        comparison = _compare_with_zoo(args.checkpoint, result)
        print_comparison(comparison, args.config, cfg)
        result["zoo_comparison"] = comparison.to_dict()
    text = json.dumps(result, sort_keys=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0


def _plain(value):
    if hasattr(value, "item") and getattr(value, "size", 1) in (1, ()):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _zoo_hint(checkpoint: str) -> str:
    """A hint to write ``zoo://NAME`` when ``checkpoint`` is the bare name of a zoo entry
    ('' otherwise)."""
    from labcore.zoo.errors import ZooError
    from labcore.zoo.manifest import find_entry

    try:
        find_entry(checkpoint)
    except (ZooError, ValueError):
        return ""
    return f"; the model zoo has a model of that name: give {ZOO_PREFIX}{checkpoint}"


def _compare_with_zoo(checkpoint: str, measured: dict):
    from labcore.zoo.client import resolve
    from labcore.zoo.compare import compare

    return compare(resolve(checkpoint[len(ZOO_PREFIX) :].strip("/")), measured)


def print_comparison(comparison, config: str, cfg, file=None) -> None:
    """Print ``comparison`` (a :class:`labcore.zoo.compare.ZooComparison`) as a table, then
    where the recorded numbers come from and what was measured."""
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    imported = comparison.kind == "imported"
    console = Console(file=file or sys.stdout, highlight=False)
    table = Table(title=f"{comparison.name} ({comparison.kind}): measured by lab test")
    table.add_column("metric")
    table.add_column("OpenLab key")
    table.add_column("published" if imported else "recorded mean", justify="right")
    if not imported:
        table.add_column("std", justify="right")
        table.add_column("published seed", justify="right")
    table.add_column("measured", justify="right")
    table.add_column("difference", justify="right")
    table.add_column("unit")
    for row in comparison.rows:
        cells = [row.name, row.key or "-", _number(row.recorded, row.unit)]
        if not imported:
            cells += [_number(row.std, row.unit), _number(row.published_seed, row.unit)]
        cells += [
            _number(row.measured, row.unit),
            _number(row.difference, row.unit, signed=True),
            row.unit,
        ]
        table.add_row(*(Text(c) for c in cells))
    if not console.is_terminal:  # a log file or pipe: as wide as the table, never wrapped
        natural = Measurement.get(console, console.options.update_width(1000), table).maximum
        console.width = max(console.width, natural)
    console.print(table)
    lines = []
    if imported:
        lines.append(f"published by {comparison.source} on {comparison.dataset}: {comparison.link}")
    else:
        lines.append(f"recorded by {comparison.source} under {comparison.dataset}")
    test_set = (cfg.get("test_dataloader") or {}).get("dataset") or {}
    lines.append(f"measured on the test set of {config} ({test_set.get('type', 'its dataset')})")
    if config != comparison.config:
        lines.append(f"{comparison.name} was published with the config {comparison.config}")
    for row in comparison.rows:
        if row.measured is not None and row.scale != 1:
            lines.append(
                f"{row.name}: measured = {row.key} x {row.scale:g} "
                f"({row.measured_value:.6g} -> {row.measured:.6g} {row.unit})"
            )
    for row in comparison.rows:
        if row.note:
            lines.append(f"{row.name} ({_number(row.recorded, row.unit)}): {row.note}")
    for line in lines:
        console.print(line, markup=False, soft_wrap=True)


def _number(value: float | None, unit: str, signed: bool = False) -> str:
    """``value`` with 3 decimals in percent, 4 as a fraction, as given in another unit."""
    if value is None:
        return "-"
    digits = {"%": ".3f", "fraction": ".4f"}.get(unit, "g")
    return format(value, ("+" if signed else "") + digits)
