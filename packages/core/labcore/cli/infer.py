"""Run a trained model on one image and print its prediction.

    lab infer labcls::resnet/resnet18_tiny_shapes.py epoch_12.pth image.jpg --topk 3
    lab infer labdet::retinanet/retinanet_r18_fpn_shapes.py zoo://NAME image.jpg --out-file out.png

The config's ``default_scope`` names the codebase (``labcls``, ``labdet``, ...); its
declared inference API (:mod:`labcore.codebase`) builds the model, runs it, prints the
result and draws it. The checkpoint may be any source ``lab test`` takes: a path, a
``.safetensors`` file, an http(s) URL or ``zoo://NAME``. A checkpoint that does not fit
the model is refused, naming the keys.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from labcore.cli.train import add_cfg_options_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="config file or pkg::rel/path.py")
    parser.add_argument("checkpoint", help="checkpoint: file, http(s) URL or zoo://NAME")
    parser.add_argument("image", help="image file")
    parser.add_argument("--topk", type=int, default=None, help="how many top classes to print")
    parser.add_argument(
        "--score-thr", type=float, default=None, help="lowest score of a detection to show"
    )
    parser.add_argument("--device", default="cpu", help="device to run on, e.g. cpu or cuda:0")
    parser.add_argument("--out-file", type=Path, help="save a drawing of the result here")
    add_cfg_options_argument(parser, "model.head.num_classes=8")


def run(args: argparse.Namespace) -> int:
    from labcore.codebase import codebase_of_config
    from labcore.engine.config import load_config
    from labcore.errors import LabError

    if not Path(args.image).is_file():
        raise LabError(f"Image file '{args.image}' does not exist.")
    cfg = load_config(args.config, args.cfg_options)
    codebase = codebase_of_config(cfg)
    options = {
        name: value
        for name, value in (("topk", args.topk), ("score_thr", args.score_thr))
        if value is not None
    }
    codebase.check_display_options(options)
    model = codebase.init_model(cfg, args.checkpoint, device=args.device, strict=True)
    result = codebase.inference(model, args.image)
    print(codebase.format_result(result, **options))
    if args.out_file is not None:
        codebase.show_result(args.image, result, out_file=args.out_file, **options)
        print(f"wrote {args.out_file}")
    return 0
