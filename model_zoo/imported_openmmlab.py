"""The ``kind: imported`` entries of OpenMMLab's published weights, read from the
model-index metafiles inside an OpenMMLab wheel or sdist (never imported or installed);
``generate_imported.py`` writes them to ``model_zoo/imported-openmmlab*.yml``. See that
script for which models become entries."""

from __future__ import annotations

import importlib
import re
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from labcore.zoo.manifest import UPSTREAM_FILE, ImportedEntry

OPENMMLAB_OUTPUT = Path(__file__).resolve().parent / "imported-openmmlab.yml"
OPENMMLAB_CLASSIFIER = "labcore.models.convert:convert_openmmlab_classifier"
# labcls config folder -> converter family
OPENMMLAB_FAMILIES = {
    "resnet": "resnet", "resnext": "resnext", "wide_resnet": "resnet",
    "mobilenet_v2": "mobilenet_v2", "convnext": "convnext", "vision_transformer": "vit",
}  # fmt: skip


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


def openmmlab_header(path: Path) -> str:
    return (
        "# OpenLab model zoo: weights published by OpenMMLab, imported (kind: imported).\n"
        "# Generated by model_zoo/generate_imported.py from the metafiles of\n"
        f"# {path.name}; do not edit: rerun the generator.\n"
    )
