"""Convert torchvision or OpenMMLab classifier weights to OpenLab's layout (safetensors).

    lab convert --from torchvision resnet50.pth resnet50_openlab.safetensors
    lab convert --from openmmlab --family convnext convnext-tiny.pth out.safetensors

Keys are renamed to an OpenLab ImageClassifier's ``backbone.*`` and ``head.fc.*`` (see
labcore.models.convert for every rule); ``--backbone-only`` keeps just the backbone,
without its prefix, for ``init_cfg=dict(type='Pretrained', ...)`` of a backbone. The
family of a torchvision file is detected from its keys unless ``--family`` is given.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from labcore.engine.checkpoint import read_checkpoint, strip_prefix
from labcore.models.convert import FAMILIES, SOURCES, convert_classifier
from labcore.zoo.weights import save_safetensors


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", type=Path, help="source checkpoint (.pth/.pt or .safetensors)")
    parser.add_argument("dst", type=Path, help="output .safetensors file")
    parser.add_argument(
        "--from", dest="source", required=True, choices=SOURCES, help="where the weights come from"
    )
    parser.add_argument(
        "--family", choices=FAMILIES, help="model family (detected for torchvision files)"
    )
    parser.add_argument(
        "--backbone-only", action="store_true", help="write only the backbone, without prefix"
    )


def run(args: argparse.Namespace) -> int:
    state_dict = read_checkpoint(args.src).state_dict
    converted = convert_classifier(state_dict, source=args.source, family=args.family)
    if args.backbone_only:
        converted = strip_prefix(converted, "backbone.")
    metadata = {"source": args.source, "source_file": args.src.name}
    if args.family:
        metadata["family"] = args.family
    path = save_safetensors(converted, args.dst, metadata)
    print(f"wrote {len(converted)} tensors to {path}")
    return 0
