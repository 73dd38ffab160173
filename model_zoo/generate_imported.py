"""Write ``model_zoo/imported-torchvision.yml`` from torchvision's installed weights enums,
and ``model_zoo/imported-openmmlab.yml`` from the model-index metafiles in an MMPretrain
wheel.

    python model_zoo/generate_imported.py            # or: nox -s zoo -- generate
    python model_zoo/generate_imported.py --check    # fail when the file is stale
    pip download --no-deps mmpretrain==1.2.0 -d /tmp/mm
    python model_zoo/generate_imported.py --mmpretrain-wheel /tmp/mm/mmpretrain-1.2.0-py2.py3-none-any.whl

For every torchvision architecture that an OpenLab config builds layer for layer (the
table below), each published weights enum member becomes one ``kind: imported`` entry:
its URL and the sha256 prefix in the file name, the published metrics (``_metrics``) on
their dataset, the parameter count (``num_params``), the licence, the OpenLab config and
the converter that maps its keys. Classification weights evaluated at another crop than
224 (the SWAG end-to-end ViT weights at 384) need a config OpenLab does not ship and are
left out. Nothing is downloaded: the enums hold all of it.

From the wheel (read as a zip, never imported), every ``Models`` entry of a
``configs/*/metafile.yml`` whose ``Config`` file name is also a labcls config (labcls
keeps MMPretrain's config names) and that publishes ImageNet-1k classification results
and a ``Weights`` URL with a hash in its name becomes an entry; its ``Parameters`` are
MMPretrain's, often rounded to a few digits.
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path

import torchvision
import yaml
from torchvision import models

from labcore.zoo.manifest import UPSTREAM_FILE, ImportedEntry, Manifest, write_manifest

OUTPUT = Path(__file__).resolve().parent / "imported-torchvision.yml"
OPENMMLAB_OUTPUT = Path(__file__).resolve().parent / "imported-openmmlab.yml"
MMPRETRAIN = "https://github.com/open-mmlab/mmpretrain/blob"
OPENMMLAB_CLASSIFIER = "labcore.models.convert:convert_openmmlab_classifier"
# labcls config folder -> converter family
OPENMMLAB_FAMILIES = {
    "resnet": "resnet", "resnext": "resnext", "wide_resnet": "resnet",
    "mobilenet_v2": "mobilenet_v2", "convnext": "convnext", "vision_transformer": "vit",
}  # fmt: skip
DOCS = "https://docs.pytorch.org/vision/stable/models/generated"
CLASSIFIER = "labcore.models.convert:convert_torchvision_classifier"
DETECTOR = "labdet.models.convert:convert_torchvision_detector"
LICENSE = "BSD-3-Clause"  # torchvision's licence; members that name another carry theirs

# builder: (weights enum, OpenLab config, converter family or None for a detector, task)
CLASSIFIERS = {
    "resnet18": ("ResNet18_Weights", "labcls::resnet/resnet18_8xb32_in1k.py", "resnet"),
    "resnet34": ("ResNet34_Weights", "labcls::resnet/resnet34_8xb32_in1k.py", "resnet"),
    "resnet50": ("ResNet50_Weights", "labcls::resnet/resnet50_8xb32_in1k.py", "resnet"),
    "resnet101": ("ResNet101_Weights", "labcls::resnet/resnet101_8xb32_in1k.py", "resnet"),
    "resnet152": ("ResNet152_Weights", "labcls::resnet/resnet152_8xb32_in1k.py", "resnet"),
    "resnext50_32x4d": (
        "ResNeXt50_32X4D_Weights", "labcls::resnext/resnext50-32x4d_8xb32_in1k.py", "resnext",
    ),
    "wide_resnet50_2": (
        "Wide_ResNet50_2_Weights", "labcls::wide_resnet/wide-resnet50_8xb32_in1k.py", "resnet",
    ),
    "wide_resnet101_2": (
        "Wide_ResNet101_2_Weights", "labcls::wide_resnet/wide-resnet101_8xb32_in1k.py", "resnet",
    ),
    "mobilenet_v2": (
        "MobileNet_V2_Weights", "labcls::mobilenet_v2/mobilenet-v2_8xb32_in1k.py", "mobilenet_v2",
    ),
    "convnext_tiny": (
        "ConvNeXt_Tiny_Weights", "labcls::convnext/convnext-tiny_32xb128_in1k.py", "convnext",
    ),
    "convnext_small": (
        "ConvNeXt_Small_Weights", "labcls::convnext/convnext-small_32xb128_in1k.py", "convnext",
    ),
    "convnext_base": (
        "ConvNeXt_Base_Weights", "labcls::convnext/convnext-base_32xb128_in1k.py", "convnext",
    ),
    "vit_b_16": (
        "ViT_B_16_Weights", "labcls::vision_transformer/vit-base-p16_32xb128_in1k.py", "vit",
    ),
}  # fmt: skip

# builder: (weights enum, OpenLab config, task)
DETECTORS = {
    "retinanet_resnet50_fpn": (
        "RetinaNet_ResNet50_FPN_Weights", "labdet::retinanet/retinanet_r50_fpn_tv_coco.py",
        "object-detection",
    ),
    "retinanet_resnet50_fpn_v2": (
        "RetinaNet_ResNet50_FPN_V2_Weights", "labdet::retinanet/retinanet_r50_fpn_v2_tv_coco.py",
        "object-detection",
    ),
    "fcos_resnet50_fpn": (
        "FCOS_ResNet50_FPN_Weights", "labdet::fcos/fcos_r50_fpn_tv_coco.py", "object-detection",
    ),
    "fasterrcnn_resnet50_fpn": (
        "FasterRCNN_ResNet50_FPN_Weights", "labdet::faster_rcnn/faster-rcnn_r50_fpn_tv_coco.py",
        "object-detection",
    ),
    "fasterrcnn_resnet50_fpn_v2": (
        "FasterRCNN_ResNet50_FPN_V2_Weights",
        "labdet::faster_rcnn/faster-rcnn_r50_fpn_v2_tv_coco.py", "object-detection",
    ),
    "maskrcnn_resnet50_fpn": (
        "MaskRCNN_ResNet50_FPN_Weights", "labdet::mask_rcnn/mask-rcnn_r50_fpn_tv_coco.py",
        "instance-segmentation",
    ),
}  # fmt: skip

HEADER = (
    "# OpenLab model zoo: weights published by torchvision, imported (kind: imported).\n"
    "# Generated by model_zoo/generate_imported.py from the installed torchvision's weights\n"
    "# enums; do not edit: run `nox -s zoo -- generate`.\n"
)


def _licence(meta: dict) -> str:
    return meta.get("license") or LICENSE


def _entry(builder: str, weights, *, codebase, config, task, converter, args, module) -> dict:
    file_name = weights.url.rsplit("/", 1)[-1]
    match = UPSTREAM_FILE.match(file_name)
    if match is None:
        raise SystemExit(f"{weights}: the file name {file_name} carries no sha256 prefix")
    meta = weights.meta
    ((dataset, metrics),) = meta["_metrics"].items()
    return dict(
        kind="imported",
        name=f"tv_{builder}_{weights.name.lower()}",
        codebase=codebase,
        config=config,
        task=task,
        source=dict(
            project="torchvision",
            package="torchvision",
            version=torchvision.__version__.split("+")[0],
            weights=f"{type(weights).__name__}.{weights.name}",
        ),
        weights=dict(
            url=weights.url,
            sha256_prefix=match[1],
            layout="torchvision",
            converter=converter,
            converter_args=args,
        ),
        metrics={k: float(v) for k, v in metrics.items()},
        dataset=dataset,
        metrics_link=f"{DOCS}/torchvision.models.{module}{builder}.html",
        params=int(meta["num_params"]),
        license=_licence(meta),
    )


def _crop_size(weights) -> int:
    return int(weights.transforms().crop_size[0])


def entries() -> list[ImportedEntry]:
    """Every imported entry, in the order of the tables above."""
    found = []
    for builder, (enum_name, config, family) in CLASSIFIERS.items():
        for weights in getattr(models, enum_name):
            if _crop_size(weights) != 224:  # e.g. SWAG end-to-end ViT weights at 384
                continue
            found.append(
                _entry(
                    builder, weights, codebase="labcls", config=config,
                    task="image-classification", converter=CLASSIFIER,
                    args={"family": family}, module="",
                )
            )  # fmt: skip
    for builder, (enum_name, config, task) in DETECTORS.items():
        for weights in getattr(models.detection, enum_name):
            found.append(
                _entry(
                    builder, weights, codebase="labdet", config=config, task=task,
                    converter=DETECTOR, args={}, module="detection.",
                )
            )  # fmt: skip
    return [ImportedEntry.model_validate(e) for e in found]


def _labcls_configs() -> dict[str, tuple[str, str]]:
    """labcls config file name -> (``labcls::dir/name``, converter family)."""
    import labcls

    root = Path(labcls.__file__).parent / "configs"
    found = {}
    for folder, family in OPENMMLAB_FAMILIES.items():
        for path in sorted((root / folder).glob("*.py")):
            found[path.name] = (f"labcls::{folder}/{path.name}", family)
    return found


def config_parameters(config: str) -> int:
    """The parameter count of the model ``config`` builds (on the meta device)."""
    import torch
    from mmengine.registry import DefaultScope

    from labcore.engine.config import load_config
    from labcore.registry import MODELS

    cfg = load_config(config)
    with DefaultScope.overwrite_default_scope(cfg.default_scope), torch.device("meta"):
        return sum(p.numel() for p in MODELS.build(cfg.model).parameters())


def agrees_with_rounded(exact: int, published: int) -> bool:
    """``published`` is ``exact`` rounded to its significant digits (MMPretrain writes
    25557032 as 25560000; an exact count must be equal)."""
    zeros = len(str(published)) - len(str(published).rstrip("0"))
    return abs(exact - published) * 2 <= 10**zeros


def openmmlab_entries(wheel: Path) -> list[ImportedEntry]:
    """The MMPretrain models of ``wheel`` that a labcls config builds."""
    version = re.match(r"mmpretrain-([^-]+)-", wheel.name)
    if version is None:
        raise SystemExit(f"{wheel} is not an mmpretrain wheel (mmpretrain-VERSION-*.whl)")
    configs = _labcls_configs()
    found = []
    with zipfile.ZipFile(wheel) as archive:
        metafiles = sorted(n for n in archive.namelist() if n.endswith("/metafile.yml"))
        for metafile in metafiles:
            content = yaml.safe_load(archive.read(metafile)) or {}
            readmes = {
                c["Name"]: c.get("README") for c in content.get("Collections") or [] if "Name" in c
            }
            for model in content.get("Models") or []:
                entry = _openmmlab_entry(model, configs, readmes, version[1])
                if entry is not None:
                    found.append(entry)
    return [ImportedEntry.model_validate(e) for e in found]


def _openmmlab_entry(model: dict, configs, readmes, version: str) -> dict | None:
    config_name = Path(model.get("Config") or "").name
    weights = model.get("Weights") or ""
    file_name = weights.rsplit("/", 1)[-1]
    match = UPSTREAM_FILE.match(file_name)
    params = (model.get("Metadata") or {}).get("Parameters")
    results = [
        r
        for r in model.get("Results") or []
        if r.get("Task") == "Image Classification" and r.get("Dataset") == "ImageNet-1k"
    ]
    if config_name not in configs or match is None or not params or not results:
        return None
    config, family = configs[config_name]
    built = config_parameters(config)
    if not agrees_with_rounded(built, int(params)):
        print(
            f"left out {model['Name']}: MMPretrain publishes {params} parameters, "
            f"{config} builds {built}",
            file=sys.stderr,
        )
        return None
    readme = readmes.get(model.get("In Collection")) or model.get("Config")
    return dict(
        kind="imported",
        name=f"mm_{model['Name'].lower()}",
        codebase="labcls",
        config=config,
        task="image-classification",
        source=dict(
            project="openmmlab", package="mmpretrain", version=version, weights=model["Name"]
        ),
        weights=dict(
            url=weights,
            sha256_prefix=match[1],
            layout="openmmlab",
            converter=OPENMMLAB_CLASSIFIER,
            converter_args={"family": family},
        ),
        metrics={k: float(v) for k, v in results[0]["Metrics"].items()},
        dataset="ImageNet-1k",
        metrics_link=f"{MMPRETRAIN}/v{version}/{readme}",
        params=int(params),
        license="Apache-2.0",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    parser.add_argument(
        "--mmpretrain-wheel",
        type=Path,
        help="write model_zoo/imported-openmmlab.yml from this mmpretrain wheel instead",
    )
    args = parser.parse_args(argv)
    if args.mmpretrain_wheel is not None:
        manifest = Manifest(models=openmmlab_entries(args.mmpretrain_wheel))
        header = (
            "# OpenLab model zoo: weights published by OpenMMLab, imported (kind: imported).\n"
            f"# Generated by model_zoo/generate_imported.py from the metafiles of\n"
            f"# {args.mmpretrain_wheel.name}; do not edit: rerun the generator.\n"
        )
        write_manifest(manifest, OPENMMLAB_OUTPUT, header)
        print(f"wrote {len(manifest.models)} entries to {OPENMMLAB_OUTPUT}")
        return 0
    manifest = Manifest(models=entries())
    if args.check:
        from labcore.zoo.manifest import read_manifest

        current = read_manifest(args.output) if args.output.is_file() else None
        if current != manifest:
            print(f"{args.output} is stale: run `nox -s zoo -- generate`", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date ({len(manifest.models)} entries)")
        return 0
    write_manifest(manifest, args.output, HEADER)
    print(f"wrote {len(manifest.models)} entries to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
