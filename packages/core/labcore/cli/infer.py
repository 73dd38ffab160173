"""Run a trained model on one image and print its prediction.

    lab infer labcls::resnet/resnet18_tiny_shapes.py epoch_12.pth image.jpg --topk 3

The config's ``default_scope`` names the codebase (``labcls``, ``labdet``, ...); its
``<scope>.apis`` module provides ``init_model``, ``inference`` and ``show_result``, and
optionally ``format_result`` for the printed text.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
from pathlib import Path

from labcore.cli.train import add_cfg_options_argument
from labcore.engine.config import load_config
from labcore.errors import ConfigError, LabError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="config file or pkg::rel/path.py")
    parser.add_argument("checkpoint", help="checkpoint file (.pth or .safetensors)")
    parser.add_argument("image", help="image file")
    parser.add_argument("--topk", type=int, default=None, help="how many top classes to print")
    parser.add_argument("--device", default="cpu", help="device to run on, e.g. cpu or cuda:0")
    parser.add_argument("--out-file", type=Path, help="save a drawing of the result here")
    add_cfg_options_argument(parser, "model.head.num_classes=8")


def codebase_apis(cfg):
    """The ``apis`` module of the codebase named by the config's ``default_scope``."""
    scope = cfg.get("default_scope")
    if not scope:
        raise ConfigError(
            f"Config {cfg.filename or ''} sets no default_scope, so it names no codebase to "
            f"run it; set default_scope = 'labcls' (or labdet, ...) in the config."
        )
    try:
        return importlib.import_module(f"{scope}.apis")
    except ModuleNotFoundError as err:
        raise ConfigError(
            f"default_scope '{scope}' names no installed codebase with an apis module "
            f"({err}); install it or fix default_scope."
        ) from err


def run(args: argparse.Namespace) -> int:
    if not Path(args.image).is_file():
        raise LabError(f"Image file '{args.image}' does not exist.")
    cfg = load_config(args.config, args.cfg_options)
    apis = codebase_apis(cfg)
    # a checkpoint that does not fit would leave random weights: refuse it, naming the keys
    strict = {"strict": True} if "strict" in inspect.signature(apis.init_model).parameters else {}
    model = apis.init_model(cfg, args.checkpoint, device=args.device, **strict)
    kwargs = {}
    if args.topk is not None:
        if "topk" not in inspect.signature(apis.inference).parameters:
            raise LabError(f"--topk does not apply to {cfg.default_scope} models; leave it out.")
        kwargs["topk"] = args.topk
    result = apis.inference(model, args.image, **kwargs)
    if hasattr(apis, "format_result"):
        print(apis.format_result(result))
    else:
        print(result)
    if args.out_file is not None:
        apis.show_result(args.image, result, out_file=args.out_file)
    return 0
