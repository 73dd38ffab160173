"""Evaluate a checkpoint on the test set of a config.

    lab test labcls::resnet/resnet18_tiny_shapes.py work_dirs/r18/epoch_10.pth
    lab test CONFIG zoo://NAME --out metrics.json --cfg-options test_dataloader.batch_size=64

The checkpoint may be a path, a ``.safetensors`` file, an http(s) URL or ``zoo://NAME``.
Its weights must fit the config's model: missing or unexpected keys are named and
refused, since metrics of a partly random model would look like results;
``--allow-partial`` loads what fits on purpose, with a warning that names the rest.
Prints the metrics as JSON on the last line of standard output.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mmengine.model import is_model_wrapper

from labcore.cli.train import add_common_arguments, load_config_from_args
from labcore.engine.checkpoint import load_state_dict, read_checkpoint
from labcore.engine.training import build_runner, close_failed_run
from labcore.errors import CheckpointError


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
            f"from a training work dir (e.g. work_dirs/<config>/epoch_N.pth)."
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
    text = json.dumps({k: _plain(v) for k, v in metrics.items()}, sort_keys=True)
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
