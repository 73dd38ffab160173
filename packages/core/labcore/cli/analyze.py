"""Count a model's parameters and FLOPs at its input size.

    lab analyze labcls::resnet/resnet50_8xb32_in1k.py
    lab analyze my_config.py --shape 512 512 --table

The model is built from the config's ``model`` (in its ``default_scope``) and run on one
random image. The input size is ``--shape H W`` if given, else the config's test pipeline
(the last transform with ``crop_size``, ``scale`` or ``size``), else the ``image_size``
of a generated (synthetic) test data set. FLOPs follow
MMEngine: one multiply-add counts as one FLOP (ResNet-50 at 224x224: about 4.1 G).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from mmengine.config import Config
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope

from labcore.engine.config import load_config
from labcore.errors import ConfigError
from labcore.models.analysis import complexity, complexity_table

SIZE_KEYS = ("crop_size", "scale", "size")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="config file or packaged config (pkg::path.py)")
    parser.add_argument(
        "--shape", nargs=2, type=int, metavar=("H", "W"), help="input height and width"
    )
    parser.add_argument("--channels", type=int, default=3, help="input channels (default 3)")
    parser.add_argument("--table", action="store_true", help="also print a per-module table")
    parser.add_argument("--depth", type=int, default=2, help="depth of the table (default 2)")


def _size_of(transform: dict) -> tuple[int, int] | None:
    """(H, W) a transform resizes or crops to. MMEngine-style ``crop_size`` and ``scale``
    are (w, h); torchvision-style ``size`` is (h, w); an int means a square."""
    for key in SIZE_KEYS:
        value = transform.get(key)
        if value is None:
            continue
        if isinstance(value, int):
            return value, value
        if (
            isinstance(value, Sequence)
            and len(value) == 2
            and all(isinstance(v, int) for v in value)
        ):
            return (value[0], value[1]) if key == "size" else (value[1], value[0])
    return None


def _test_dataset(cfg: Config) -> dict:
    for loader in ("test_dataloader", "val_dataloader"):
        dataset = (cfg.get(loader) or {}).get("dataset")
        if isinstance(dataset, dict):
            return dataset
    return {}


def input_size_from_config(cfg: Config) -> tuple[tuple[int, int], str] | None:
    """(H, W) the model sees at test time and where it was found, or None.

    The last sizing transform of the test pipeline wins; without one, the square
    ``image_size`` of a synthetic data set's generation options (a dict inside the test
    dataset's config, e.g. ``generate=dict(image_size=32, ...)``).
    """
    dataset = _test_dataset(cfg)
    size = None
    for transform in dataset.get("pipeline") or cfg.get("test_pipeline") or []:
        if isinstance(transform, dict):
            size = _size_of(transform) or size
    if size is not None:
        return size, "test pipeline"
    for key, value in dataset.items():
        if isinstance(value, dict) and isinstance(value.get("image_size"), int):
            return (value["image_size"], value["image_size"]), f"test dataset {key}.image_size"
    return None


def build_model(cfg: Config):
    """The config's ``model``, built in the registry of its ``default_scope``."""
    if "model" not in cfg:
        raise ConfigError("The config has no `model`; lab analyze needs one to build.")
    scope = cfg.get("default_scope", "labcore")
    with DefaultScope.overwrite_default_scope(scope):
        return ROOT_MODELS.build(cfg.model)


def _metric(count: int) -> str:
    """``count`` in G above 1e9, else in M: '4.109 G', '0.703 M'."""
    return f"{count / 1e9:.3f} G" if count >= 1e9 else f"{count / 1e6:.3f} M"


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if args.shape is not None:
        height, width = args.shape
        source = "--shape"
    else:
        found = input_size_from_config(cfg)
        if found is None:
            raise ConfigError(
                f"Config '{args.config}' has no test pipeline with a crop_size, scale or size "
                "and no synthetic data set image_size; pass the input size with --shape H W."
            )
        (height, width), source = found
    model = build_model(cfg)
    shape = (args.channels, height, width)
    stats = complexity(model, shape)
    print(f"config: {args.config}")
    print(f"model:  {type(model).__name__}")
    print(f"input:  1x{shape[0]}x{height}x{width} (from {source})")
    print(f"params: {_metric(stats['params'])} ({stats['params']:,})")
    print(f"flops:  {_metric(stats['flops'])} ({stats['flops']:,}; one multiply-add = one FLOP)")
    if args.table:
        print(complexity_table(model, shape, max_depth=args.depth))
    return 0
