"""Write ``model_zoo/imported-torchvision.yml`` from torchvision's installed weights enums,
and ``model_zoo/imported-openmmlab*.yml`` from the model-index metafiles of OpenMMLab's
distributions (MMPretrain, MMDetection, MMSegmentation, MMPose).

    python model_zoo/generate_imported.py            # or: nox -s zoo -- generate
    python model_zoo/generate_imported.py --check    # fail when the file is stale
    pip download --no-deps mmpretrain==1.2.0 mmdet==3.3.0 mmsegmentation==1.2.2 \
        mmpose==1.3.2 -d /tmp/mm
    python model_zoo/generate_imported.py --openmmlab /tmp/mm/mmpretrain-1.2.0-py2.py3-none-any.whl \
        --openmmlab /tmp/mm/mmdet-3.3.0-py3-none-any.whl ...   # [--check]

Options: ``--output PATH`` (the torchvision manifest, default
``model_zoo/imported-torchvision.yml``); ``--check`` (write nothing, exit 1 when a manifest
differs from what would be written); ``--openmmlab DIST`` (repeatable: a wheel or sdist of
mmpretrain, mmdet, mmsegmentation or mmpose; writes, or checks, that package's manifest
instead of torchvision's); ``--mmpretrain-wheel WHEEL`` (the same as ``--openmmlab``).

For every torchvision architecture that an OpenLab config builds layer for layer (the
table below), each published weights enum member becomes one ``kind: imported`` entry:
its URL and the sha256 prefix in the file name, the published metrics (``_metrics``) on
their dataset, the parameter count (``num_params``), the licence, the OpenLab config and
the converter that maps its keys. Classification weights evaluated at another crop than
224 (the SWAG end-to-end ViT weights at 384) need a config OpenLab does not ship and are
left out. Nothing is downloaded: the enums hold all of it.

From an OpenMMLab distribution (read as a zip or tar archive, never imported or
installed), every ``Models`` entry of the metafiles its ``model-index.yml`` imports
becomes an entry when its ``Config`` file name is also a config of the matching codebase
(labcls, labdet and labseg keep the anchors' config names), it publishes results on the
dataset that config is for (ImageNet-1k top-1/top-5; COCO box / mask AP; ADE20K,
Cityscapes or Pascal VOC 2012 + Aug mIoU; COCO keypoint AP) and its ``Weights`` file name carries the hash
prefix (``NAME-<sha256[:8]>.pth``). MMPretrain's entries go to ``imported-openmmlab.yml``
(its ``Parameters`` are often rounded to a few digits); the others to
``imported-openmmlab-<package>.yml``, with the parameter count of the built config (their
metafiles publish none). Detection takes Faster, Mask and Cascade (Mask) R-CNN; the
families :data:`PACKAGES` leaves out are printed with the reason. MMPose's weights go to
``imported-openmmlab-mmpose.yml``: SimpleBaseline and HRNet top-down heatmap models on COCO
keypoints (the configs labpose ships under MMPose's names), their file names carrying a
date after the hash (``NAME-<sha256[:8]>_<YYYYMMDD>.pth``), their link the results README
beside the metafile; a model whose metafile lists another model's weights file is left out.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torchvision
import yaml
from torchvision import models

from labcore.zoo.digests import recorded_digests
from labcore.zoo.manifest import UPSTREAM_FILE, ImportedEntry, Manifest, write_manifest

OUTPUT = Path(__file__).resolve().parent / "imported-torchvision.yml"
OPENMMLAB_OUTPUT = Path(__file__).resolve().parent / "imported-openmmlab.yml"
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


@dataclass(frozen=True)
class Package:
    """How one OpenMMLab distribution's metafiles map onto an OpenLab codebase: the config
    folders whose weights its ``converter`` maps, the metafile ``Results`` tasks it reads
    (-> OpenLab task), the dataset a config is for (a token of its name -> the metafile's
    ``Dataset``), and the folders left out, with why."""

    repository: str
    codebase: str
    converter: str = ""
    folders: tuple[str, ...] = ()
    tasks: dict[str, str] = field(default_factory=dict)
    datasets: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    # MMPose: the results table is the README NAME.md beside each metafile NAME.yml (its
    # Collections' README is the paper's page), and every Weights file is named after its
    # model (a file named after another model is another model's weights).
    readme_beside_metafile: bool = False
    weights_named_after_model: bool = False


_P6_FROM_C5 = (
    "MMDetection's RetinaNet computes P6 from C5 (a 2048-channel conv, add_extra_convs="
    "'on_input'), labdet's RetinaNet configs from P5 (as torchvision's): the weights "
    "do not fit"
)
_NO_RELU_BEFORE_P7 = (
    "MMDetection's FPN computes P7 from P6 without a ReLU (relu_before_extra_convs=False), "
    "labdet's FPN with one: the keys fit but the model would compute another P7"
)
PACKAGES = {
    "mmpretrain": Package(repository="mmpretrain", codebase="labcls"),
    "mmdet": Package(
        repository="mmdetection",
        codebase="labdet",
        converter="labdet.models.convert:convert_openmmlab_detector",
        folders=("faster_rcnn", "mask_rcnn", "cascade_rcnn"),
        tasks={"Object Detection": "object-detection", "Instance Segmentation": "instance-segmentation"},
        datasets={"_coco": "COCO"},
        left_out={"retinanet": _P6_FROM_C5, "atss": _NO_RELU_BEFORE_P7, "gfl": _NO_RELU_BEFORE_P7},
    ),
    "mmsegmentation": Package(
        repository="mmsegmentation",
        codebase="labseg",
        converter="labseg.models.convert:convert_openmmlab_segmentor",
        folders=("fcn", "pspnet", "deeplabv3", "deeplabv3plus", "upernet", "segformer"),
        tasks={"Semantic Segmentation": "semantic-segmentation"},
        datasets={
            "_ade20k-": "ADE20K", "_cityscapes-": "Cityscapes", "_voc12aug-": "Pascal VOC 2012 + Aug",
        },
    ),
    # labpose ships MMPose's top-down heatmap COCO configs under MMPose's names
    # (td-hm_hrnet-w32_8xb64-210e_coco-256x192.py, ...); the weights' names put a date
    # after the hash (...-81c58e40_20220909.pth).
    "mmpose": Package(
        repository="mmpose",
        codebase="labpose",
        converter="labpose.models.convert:convert_openmmlab_pose",
        folders=("simplebaseline", "hrnet"),
        tasks={"Body 2D Keypoint": "pose-estimation"},
        datasets={"_coco-": "COCO"},
        readme_beside_metafile=True,
        weights_named_after_model=True,
    ),
}  # fmt: skip
DISTRIBUTION_FILE = re.compile(r"^([a-z_]+)-(\d[\w.]*?)(?:-py.*\.whl|\.tar\.gz|\.zip)$")


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


class Distribution:
    """A downloaded OpenMMLab wheel or sdist, read as an archive (zip or tar), never
    imported: its ``model-index.yml`` and the metafiles that index imports."""

    def __init__(self, path: Path):
        match = DISTRIBUTION_FILE.match(path.name)
        if match is None or match[1] not in PACKAGES:
            raise SystemExit(
                f"{path} is not a wheel or sdist of {', '.join(PACKAGES)} "
                "(NAME-VERSION-*.whl or NAME-VERSION.tar.gz)"
            )
        self.path, self.package, self.version = path, match[1], match[2]
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                self._files = {n: archive.read(n) for n in archive.namelist() if _wanted(n)}
        else:
            with tarfile.open(path) as archive:
                self._files = {
                    m.name: archive.extractfile(m).read()
                    for m in archive.getmembers()
                    if m.isfile() and _wanted(m.name)
                }

    def metafiles(self) -> list[dict]:
        """The content of every metafile ``model-index.yml`` imports, in path order."""
        return [content for _, content in self.named_metafiles()]

    def named_metafiles(self) -> list[tuple[str, dict]]:
        """(path in the repository, content) of every metafile ``model-index.yml``
        imports, in path order."""
        indexes = sorted((n for n in self._files if n.endswith("model-index.yml")), key=len)
        if not indexes:
            raise SystemExit(f"{self.path} holds no model-index.yml")
        root = indexes[0].removesuffix("model-index.yml")
        imports = yaml.safe_load(self._files[indexes[0]]).get("Import") or []
        return [(name, yaml.safe_load(self._files[root + name]) or {}) for name in sorted(imports)]


def _wanted(name: str) -> bool:
    """The index and the metafiles (``*.yml`` / ``*.yaml``); configs and code are skipped."""
    return name.endswith((".yml", ".yaml"))


def _results(model: dict) -> list[dict]:
    results = model.get("Results") or []
    return [results] if isinstance(results, dict) else results


def openmmlab_entries(path: Path) -> list[ImportedEntry]:
    """The models of an OpenMMLab distribution (mmpretrain, mmdet, mmsegmentation, mmpose)
    that an OpenLab config builds."""
    dist = Distribution(path)
    if dist.package == "mmpretrain":
        configs = _labcls_configs()
        make = _mmpretrain_entry
    else:
        configs = _codebase_configs(PACKAGES[dist.package])
        make = _dense_entry
    found = []
    for name, content in dist.named_metafiles():
        readmes = {
            c["Name"]: c.get("README") for c in content.get("Collections") or [] if "Name" in c
        }
        if PACKAGES[dist.package].readme_beside_metafile:
            readme = str(Path(name).with_suffix(".md"))
            readmes = {m.get("In Collection"): readme for m in content.get("Models") or []}
        for model in content.get("Models") or []:
            entry = make(model, configs, readmes, dist)
            if entry is not None:
                found.append(entry)
    return [ImportedEntry.model_validate(e) for e in _one_per_name(found)]


def _name_tokens(text: str) -> set[str]:
    return set(re.split(r"[_.-]", text.lower()))


def _one_per_name(found: list[dict]) -> list[dict]:
    """Where a metafile gives two models the same name (and so the same config: MMSegmentation
    1.2.2 files deeplabv3plus_r101-d8's 80k ADE20K weights and pspnet_r50-d32's weights under
    their 160k and r50b-d32 siblings), the entry keeps the weights whose file name shares the
    most tokens with the config's (``..._512x512_160k_ade20k_...``); the others are left out."""

    def file_name(entry: dict) -> str:
        return entry["weights"]["url"].rsplit("/", 1)[-1]

    by_name: dict[str, list[dict]] = {}
    for entry in found:
        by_name.setdefault(entry["name"], []).append(entry)
    kept = []
    for entry in found:
        config = _name_tokens(Path(entry["config"]).stem)
        best = max(by_name[entry["name"]], key=lambda e: len(config & _name_tokens(file_name(e))))
        if entry is not best:
            print(
                f"left out {file_name(entry)}: the metafile gives it the name of "
                f"{file_name(best)}, {entry['source']['weights']}",
                file=sys.stderr,
            )
            continue
        kept.append(entry)
    return kept


def _upstream(model: dict, dist: Distribution, readmes) -> tuple[str, str, str]:
    """(url, sha256 prefix or '', README link at the release tag)."""
    weights = model.get("Weights") or ""
    match = UPSTREAM_FILE.match(weights.rsplit("/", 1)[-1])
    readme = readmes.get(model.get("In Collection")) or model.get("Config")
    link = f"https://github.com/open-mmlab/{PACKAGES[dist.package].repository}/blob"
    return weights, match[1] if match else "", f"{link}/v{dist.version}/{readme}"


def _mmpretrain_entry(model: dict, configs, readmes, dist: Distribution) -> dict | None:
    config_name = Path(model.get("Config") or "").name
    weights, prefix, link = _upstream(model, dist, readmes)
    params = (model.get("Metadata") or {}).get("Parameters")
    results = [
        r
        for r in _results(model)
        if r.get("Task") == "Image Classification" and r.get("Dataset") == "ImageNet-1k"
    ]
    if config_name not in configs or not prefix or not params or not results:
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
    return dict(
        kind="imported",
        name=f"mm_{model['Name'].lower()}",
        codebase="labcls",
        config=config,
        task="image-classification",
        source=dict(
            project="openmmlab", package="mmpretrain", version=dist.version, weights=model["Name"]
        ),
        weights=dict(
            url=weights,
            sha256_prefix=prefix,
            layout="openmmlab",
            converter=OPENMMLAB_CLASSIFIER,
            converter_args={"family": family},
        ),
        metrics={k: float(v) for k, v in results[0]["Metrics"].items()},
        dataset="ImageNet-1k",
        metrics_link=link,
        params=int(params),
        license="Apache-2.0",
    )


def _codebase_configs(package: Package) -> dict[str, str]:
    """Config file name -> ``codebase::dir/name`` for every config of the codebase."""
    root = Path(importlib.import_module(package.codebase).__file__).parent / "configs"
    return {
        path.name: f"{package.codebase}::{path.parent.name}/{path.name}"
        for path in sorted(root.glob("*/*.py"))
        if path.parent.name != "_base_"
    }


def _dense_entry(model: dict, configs, readmes, dist: Distribution) -> dict | None:
    """A detection / segmentation / pose model whose config name is also the codebase's,
    with results on the dataset that config is for."""
    package = PACKAGES[dist.package]
    config_name = Path(model.get("Config") or "").name
    if config_name not in configs:
        return None
    config = configs[config_name]
    folder = config.split("::")[1].split("/")[0]
    if folder in package.left_out:
        print(f"left out {model['Name']}: {package.left_out[folder]}", file=sys.stderr)
        return None
    if folder not in package.folders:
        return None
    weights, prefix, link = _upstream(model, dist, readmes)
    if package.weights_named_after_model and not weights.rsplit("/", 1)[-1].startswith(
        f"{model['Name']}-"
    ):
        print(
            f"left out {model['Name']}: the metafile lists another model's weights, "
            f"{weights.rsplit('/', 1)[-1]}",
            file=sys.stderr,
        )
        return None
    dataset = next((d for token, d in package.datasets.items() if token in config_name), None)
    results = [
        r for r in _results(model) if r.get("Task") in package.tasks and r.get("Dataset") == dataset
    ]
    if not prefix or not results:
        print(
            f"left out {model['Name']}: no hashed weights or no {dataset} results", file=sys.stderr
        )
        return None
    metrics = {k: float(v) for r in results for k, v in r["Metrics"].items()}
    found_tasks = {package.tasks[r["Task"]] for r in results}  # the last of ``tasks`` wins
    params = (model.get("Metadata") or {}).get("Parameters") or config_parameters(config)
    return dict(
        kind="imported",
        name=f"mm_{model['Name'].lower()}",
        codebase=package.codebase,
        config=config,
        task=[t for t in package.tasks.values() if t in found_tasks][-1],
        source=dict(
            project="openmmlab", package=dist.package, version=dist.version, weights=model["Name"]
        ),
        weights=dict(
            url=weights,
            sha256_prefix=prefix,
            layout="openmmlab",
            converter=package.converter,
            converter_args={},
        ),
        metrics=metrics,
        dataset=dataset,
        metrics_link=link,
        params=int(params),
        license="Apache-2.0",
    )


def openmmlab_output(package: str) -> Path:
    """The manifest of ``package``'s entries: ``imported-openmmlab.yml`` for MMPretrain's,
    ``imported-openmmlab-<package>.yml`` for the others."""
    if package == "mmpretrain":
        return OPENMMLAB_OUTPUT
    return OPENMMLAB_OUTPUT.with_name(f"imported-openmmlab-{package}.yml")


def _openmmlab_header(path: Path) -> str:
    return (
        "# OpenLab model zoo: weights published by OpenMMLab, imported (kind: imported).\n"
        "# Generated by model_zoo/generate_imported.py from the metafiles of\n"
        f"# {path.name}; do not edit: rerun the generator.\n"
    )


def _is_current(manifest: Manifest, path: Path, how: str) -> bool:
    """Whether ``path`` holds ``manifest`` (a missing file holds no entries); ``how`` says
    how to regenerate it."""
    from labcore.zoo.manifest import read_manifest

    current = read_manifest(path) if path.is_file() else Manifest()
    if current.models != manifest.models:
        print(f"{path} is stale: {how}", file=sys.stderr)
        return False
    print(f"{path} is up to date ({len(manifest.models)} entries)")
    return True


def with_recorded_digests(manifest: Manifest, output: Path) -> Manifest:
    """``manifest`` with the full digests and sizes that ``lab zoo record-digests`` wrote
    into ``output`` kept, for the entries whose URL is unchanged."""
    recorded = recorded_digests(output)
    models = []
    for entry in manifest.models:
        known = recorded.get(entry.weights.url)
        if known is not None:
            entry = entry.model_copy(update={"weights": entry.weights.model_copy(update=known)})
        models.append(entry)
    return manifest.model_copy(update={"models": models})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail when a file is stale")
    parser.add_argument(
        "--openmmlab",
        type=Path,
        action="append",
        default=[],
        metavar="DIST",
        help="an OpenMMLab wheel or sdist (mmpretrain, mmdet, mmsegmentation, mmpose): write "
        "(or, with --check, check) its model_zoo/imported-openmmlab*.yml instead; repeatable",
    )
    parser.add_argument(
        "--mmpretrain-wheel", type=Path, help="the same as --openmmlab with an mmpretrain wheel"
    )
    args = parser.parse_args(argv)
    distributions = args.openmmlab + ([args.mmpretrain_wheel] if args.mmpretrain_wheel else [])
    if distributions:
        current = True
        for path in distributions:
            output = openmmlab_output(Distribution(path).package)
            manifest = with_recorded_digests(Manifest(models=openmmlab_entries(path)), output)
            if args.check:
                how = f"run model_zoo/generate_imported.py --openmmlab {path}"
                current &= _is_current(manifest, output, how)
            elif not manifest.models:
                print(f"{path.name}: no model fits an OpenLab config; nothing written")
            else:
                write_manifest(manifest, output, _openmmlab_header(path))
                print(f"wrote {len(manifest.models)} entries to {output}")
        return 0 if current else 1
    manifest = with_recorded_digests(Manifest(models=entries()), args.output)
    if args.check:
        return 0 if _is_current(manifest, args.output, "run `nox -s zoo -- generate`") else 1
    write_manifest(manifest, args.output, HEADER)
    print(f"wrote {len(manifest.models)} entries to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
