"""Train a model from a config file or a packaged config (pkg::path.py).

    lab train labcls::resnet/resnet18_tiny_shapes.py --work-dir work_dirs/r18
    lab train CONFIG --resume                 # from the latest checkpoint of the work dir
    lab train CONFIG --resume work_dirs/r18/epoch_2.pth
    lab train CONFIG --cfg-options train_cfg.max_epochs=4 +model.backbone.with_cp=True
    torchrun --nproc_per_node 2 -m labcore.cli.main train CONFIG --launcher pytorch

``--cfg-options`` changes keys that exist in the config; prefix a key with ``+`` to add
a new one. MLflow tracking goes to ``sqlite:///<work_dir>/mlflow.db`` unless
MLFLOW_TRACKING_URI is set; ``--no-mlflow`` turns it off.
"""

from __future__ import annotations

import argparse

from mmengine.config import DictAction

from labcore.engine.config import load_config
from labcore.engine.training import LAUNCHERS, build_runner, close_failed_run


class CfgOptionsAction(DictAction):
    """MMEngine's ``KEY=VALUE`` parser, with a clear error for an item without ``=``."""

    def __call__(self, parser, namespace, values, option_string=None):
        for item in values:
            if "=" not in item:
                raise argparse.ArgumentError(
                    self,
                    f"'{item}' is not KEY=VALUE. Write each override as key=value, "
                    f"e.g. train_cfg.max_epochs=2 (quote values with spaces).",
                )
        super().__call__(parser, namespace, values, option_string)


def add_cfg_options_argument(parser: argparse.ArgumentParser, example: str) -> None:
    """The ``--cfg-options KEY=VALUE ...`` argument of the commands that load a config."""
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=CfgOptionsAction,
        default={},
        metavar="KEY=VALUE",
        help=f"override config keys, e.g. {example}; '+key=value' adds a new key",
    )


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``lab train`` and ``lab test``."""
    parser.add_argument("--work-dir", help="folder for logs and checkpoints")
    add_cfg_options_argument(parser, "train_cfg.max_epochs=2")
    parser.add_argument("--launcher", choices=LAUNCHERS, default="none", help="job launcher")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0, help=argparse.SUPPRESS)


def load_config_from_args(args: argparse.Namespace):
    """The config of ``args.config`` with ``--cfg-options`` and ``--no-mlflow`` applied."""
    cfg = load_config(args.config, args.cfg_options)
    if args.no_mlflow:
        cfg.mlflow = False
    return cfg


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="config file or pkg::rel/path.py")
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        metavar="CHECKPOINT",
        help="resume from CHECKPOINT, or from the latest checkpoint of the work dir",
    )
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> int:
    cfg = load_config_from_args(args)
    runner = build_runner(cfg, work_dir=args.work_dir, resume=args.resume, launcher=args.launcher)
    try:
        runner.train()
    except BaseException:
        close_failed_run(runner)
        raise
    return 0
