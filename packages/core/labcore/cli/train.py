"""Train a model from a config file or a packaged config (pkg::path.py).

    lab train labcls::resnet/resnet18_tiny_shapes.py --work-dir work_dirs/r18
    lab train CONFIG --resume                 # from the latest checkpoint of the work dir
    lab train CONFIG --resume work_dirs/r18/epoch_2.pth
    lab train CONFIG --cfg-options train_cfg.max_epochs=4 +model.backbone.with_cp=True
    torchrun --nproc_per_node 2 -m labcore.cli.main train CONFIG --launcher pytorch

``--cfg-options`` changes keys that exist in the config; prefix a key with ``+`` to add
a new one. MLflow tracking goes to ``sqlite:///<work_dir>/mlflow.db`` unless
MLFLOW_TRACKING_URI is set; ``--no-mlflow`` turns it off.

``--reproducible`` pins the CPU kernels (ATen and oneDNN to AVX2, MKL's AVX2 branch) and
one thread (:mod:`labcore.cpu_pins`), so a deterministic CPU run gives the same weights
on any x86-64 machine with AVX2, as the tiny benchmark protocols do. The pins are set
before torch is loaded; when it is loaded already (``--cfg-options`` loads it while the
arguments are read), the command runs again in a new process with the pins. The CPU,
its instruction sets and the pins are recorded in the config (``cpu_provenance``), so in
MLflow and the checkpoints.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from labcore.cpu_pins import CpuPins, apply_before_torch


class CfgOptionsAction(argparse.Action):
    """MMEngine's ``KEY=VALUE`` parser (:class:`mmengine.config.DictAction`), with a clear
    error for an item without ``=``, and dict values (``+model.backbone.norm_cfg={'type':
    'SplitBN', 'num_splits': 4}``), which MMEngine's parser leaves a string that fails
    deep inside the config. MMEngine is imported only when the option is used."""

    def __call__(self, parser, namespace, values, option_string=None):
        for item in values:
            if "=" not in item:
                raise argparse.ArgumentError(
                    self,
                    f"'{item}' is not KEY=VALUE. Write each override as key=value, "
                    f"e.g. train_cfg.max_epochs=2 (quote values with spaces).",
                )
        from mmengine.config import DictAction

        options = dict(getattr(namespace, self.dest, None) or {})
        for item in values:
            key, value = item.split("=", maxsplit=1)
            if value.strip().startswith("{"):  # a dict, which MMEngine's parser cannot read
                options[key] = self._parse_dict(item, value)
            else:
                options[key] = DictAction._parse_iterable(value)
        setattr(namespace, self.dest, options)

    def _parse_dict(self, item: str, value: str) -> dict:
        """A Python dict literal, e.g. ``{'type': 'SplitBN', 'num_splits': 4}``."""
        import ast

        try:
            parsed = ast.literal_eval(value)
        except (SyntaxError, ValueError):
            raise argparse.ArgumentError(
                self,
                f"'{item}': the value is not a Python dict literal. Write it as "
                "key={'type': 'BN', 'momentum': 0.1}, quoted for the shell.",
            ) from None
        if not isinstance(parsed, dict):
            raise argparse.ArgumentError(self, f"'{item}': the value is not a dict.")
        return parsed


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
    parser.add_argument(
        "--launcher",
        default="none",
        help="job launcher: none (default), pytorch (torchrun), slurm (srun) or mpi",
    )
    parser.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0, help=argparse.SUPPRESS)


def load_config_from_args(args: argparse.Namespace):
    """The config of ``args.config`` with ``--cfg-options`` and ``--no-mlflow`` applied."""
    from labcore.engine.config import load_config

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
    parser.add_argument(
        "--reproducible",
        action="store_true",
        help="pin CPU kernels to AVX2 and one thread: the same numbers on any AVX2 machine",
    )
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> int:
    pins = CpuPins() if args.reproducible else None
    if pins is not None:
        if "torch" in sys.modules and not pins.in_effect():
            return _run_pinned_in_new_process(pins, getattr(args, "_argv", sys.argv[1:]))
        apply_before_torch(pins)
    from labcore.engine.training import build_runner, close_failed_run

    cfg = load_config_from_args(args)
    runner = build_runner(
        cfg,
        work_dir=args.work_dir,
        resume=args.resume,
        launcher=args.launcher,
        cpu_pins=pins,
    )
    try:
        runner.train()
    except BaseException:
        close_failed_run(runner)
        raise
    return 0


def _run_pinned_in_new_process(pins: CpuPins, argv: list[str]) -> int:
    """This ``lab train`` command again, in a new Python with ``pins`` in its
    environment (this process has loaded torch, whose kernels are chosen already)."""
    command = [sys.executable, "-m", "labcore.cli.main", *argv]
    return subprocess.run(command, env=pins.environment(os.environ), check=False).returncode
