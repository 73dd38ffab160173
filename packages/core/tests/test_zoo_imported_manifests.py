"""The generated imported-weights manifests (``model_zoo/imported-*.yml``): current with
the installed torchvision, every entry's config builds the model it loads into (on the
meta device: no memory, no initialisation; each config once) with the published parameter
count (exactly; MMPretrain's counts are rounded, so to their digits; where OpenMMLab
publishes none, the entry holds the config's own count), and every upstream file name
carries the entry's sha256 prefix."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from mmengine.registry import DefaultScope

from labcore.engine.config import load_config
from labcore.registry import MODELS
from labcore.zoo.manifest import (
    UPSTREAM_FILE,
    ImportedEntry,
    Manifest,
    read_manifest,
    write_manifest,
)

REPO_ZOO = Path(__file__).resolve().parents[3] / "model_zoo"
TORCHVISION = REPO_ZOO / "imported-torchvision.yml"
ENTRIES = read_manifest(TORCHVISION).models
MMPRETRAIN = read_manifest(REPO_ZOO / "imported-openmmlab.yml").models
OPENMMLAB = [
    entry
    for path in sorted(REPO_ZOO.glob("imported-openmmlab*.yml"))
    for entry in read_manifest(path).models
]


def rounded_like(exact: int, published: int) -> int:
    """``exact`` rounded to as many trailing zeros as ``published`` has."""
    zeros = len(str(published)) - len(str(published).rstrip("0"))
    return round(exact, -zeros) if zeros else exact


def _generator():
    if str(REPO_ZOO) not in sys.path:  # its sibling modules, as when run as a script
        sys.path.insert(0, str(REPO_ZOO))
    spec = importlib.util.spec_from_file_location(
        "generate_imported", REPO_ZOO / "generate_imported.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_manifest_is_current_with_the_installed_torchvision():
    generator = _generator()
    generated = generator.with_recorded_digests(Manifest(models=generator.entries()), TORCHVISION)
    assert read_manifest(TORCHVISION).models == generated.models, (
        "model_zoo/imported-torchvision.yml is stale: run `nox -s zoo -- generate`"
    )


def test_regenerating_keeps_the_recorded_digests(tmp_path):
    generator = _generator()
    fresh = Manifest(models=generator.entries()[:2])
    first, second = fresh.models
    digest = first.weights.sha256_prefix.ljust(64, "0")  # any digest that keeps the prefix
    recorded = first.model_copy(
        update={"weights": first.weights.model_copy(update={"sha256": digest, "size": 7})}
    )
    output = tmp_path / "imported-torchvision.yml"
    write_manifest(fresh.model_copy(update={"models": [recorded, second]}), output, "# t\n")
    kept = generator.with_recorded_digests(fresh, output).models
    assert kept[0].weights.sha256 == recorded.weights.sha256 and kept[0].weights.size == 7
    assert kept[1].weights.sha256 is None  # nothing recorded for it


def test_every_supported_architecture_is_covered():
    builders = {e.source.weights.split("_Weights")[0].lower() for e in ENTRIES}
    assert {
        "resnet18",
        "resnet50",
        "resnext50_32x4d",
        "wide_resnet50_2",
        "mobilenet_v2",
    } <= builders
    assert {"convnext_tiny", "vit_b_16", "retinanet_resnet50_fpn", "fcos_resnet50_fpn"} <= builders
    assert {"fasterrcnn_resnet50_fpn_v2", "maskrcnn_resnet50_fpn"} <= builders
    assert all(isinstance(e, ImportedEntry) and e.source.project == "torchvision" for e in ENTRIES)


BY_CONFIG: dict[str, list[ImportedEntry]] = {}
for _entry in ENTRIES + OPENMMLAB:
    BY_CONFIG.setdefault(_entry.config, []).append(_entry)


@pytest.mark.parametrize("config", BY_CONFIG)
def test_the_config_builds_the_published_architecture(config):
    cfg = load_config(config)
    with DefaultScope.overwrite_default_scope(cfg.default_scope), torch.device("meta"):
        model = MODELS.build(cfg.model)
    built = sum(p.numel() for p in model.parameters())
    for entry in BY_CONFIG[config]:
        match = UPSTREAM_FILE.match(entry.weights.file_name)
        assert match is not None and match[1] == entry.weights.sha256_prefix, entry.name
        if entry.source.project == "torchvision":
            assert built == entry.params, entry.name
        else:
            assert rounded_like(built, entry.params) == entry.params, entry.name


def test_openmmlab_entries_name_their_release():
    assert len(MMPRETRAIN) >= 15
    packages = {e.source.package: e.codebase for e in OPENMMLAB}
    assert packages == {
        "mmpretrain": "labcls",
        "mmdet": "labdet",
        "mmsegmentation": "labseg",
        "mmpose": "labpose",
    }
    for entry in OPENMMLAB:
        assert entry.weights.url.startswith("https://download.openmmlab.com/")
        assert entry.weights.layout == "openmmlab" and entry.license == "Apache-2.0"
        assert f"/v{entry.source.version}/" in entry.metrics_link
        module, _, function = entry.weights.converter.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), entry.name


CLASSIFIERS = [e for e in ENTRIES if e.codebase == "labcls"]


@pytest.mark.parametrize("entry", CLASSIFIERS, ids=lambda e: e.name)
def test_the_converter_maps_every_upstream_key_onto_the_config(entry):
    """torchvision's architecture and the config's, both on the meta device: the converted
    upstream keys are exactly the model's, with the same shapes. (Detectors: the same
    check runs with real weights and equal outputs in labdet's test_convert.py.)"""
    import torchvision

    from labcore.zoo.weights import run_converter

    member = entry.source.weights.split(".")[1].lower()
    builder = entry.name.removeprefix("tv_").removesuffix(f"_{member}")
    cfg = load_config(entry.config)
    with torch.device("meta"):
        upstream = torchvision.models.get_model(builder, weights=None).state_dict()
        with DefaultScope.overwrite_default_scope(cfg.default_scope):
            ours = MODELS.build(cfg.model).state_dict()
    converted = run_converter(upstream, entry.weights.converter, entry.weights.converter_args)
    assert {k: v.shape for k, v in converted.items()} == {k: v.shape for k, v in ours.items()}


FCN_ADE = "fcn_r50-d8_4xb4-160k_ade20k-512x512"
SEG_METAFILE = {
    "Collections": [{"Name": "FCN", "README": "configs/fcn/README.md"}],
    "Models": [
        {  # fits labseg's config of the same name
            "Name": FCN_ADE,
            "In Collection": "FCN",
            "Config": f"configs/fcn/{FCN_ADE}.py",
            "Results": {"Task": "Semantic Segmentation", "Dataset": "ADE20K", "Metrics": {"mIoU": 36.1}},
            "Weights": f"https://download.openmmlab.com/mmsegmentation/v0.5/fcn/{FCN_ADE}_20200615-4edbc3b4.pth",
        },
        {  # results on another dataset than the config's
            "Name": "fcn_r50-d8_4xb4-20k_voc12aug-512x512",
            "Config": "configs/fcn/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py",
            "Results": [{"Task": "Semantic Segmentation", "Dataset": "ADE20K", "Metrics": {"mIoU": 1.0}}],
            "Weights": "https://download.openmmlab.com/x/fcn_voc12aug-52dc5306.pth",
        },
        {  # no hash in the file name
            "Name": "pspnet_r50-d8_4xb4-160k_ade20k-512x512",
            "Config": "configs/pspnet/pspnet_r50-d8_4xb4-160k_ade20k-512x512.py",
            "Results": {"Task": "Semantic Segmentation", "Dataset": "ADE20K", "Metrics": {"mIoU": 42.48}},
            "Weights": "https://download.openmmlab.com/x/pspnet_r50-d8_ade20k.pth",
        },
        {  # no labseg config of that name
            "Name": "ann_r50-d8_4xb4-160k_ade20k-512x512",
            "Config": "configs/ann/ann_r50-d8_4xb4-160k_ade20k-512x512.py",
            "Results": {"Task": "Semantic Segmentation", "Dataset": "ADE20K", "Metrics": {"mIoU": 41.4}},
            "Weights": "https://download.openmmlab.com/x/ann_r50-d8_ade20k-a1b2c3d4.pth",
        },
    ],
}  # fmt: skip


def _write_distribution(path: Path, root: str, metafile: dict, folder: str) -> Path:
    """A wheel (zip) or an sdist (tar.gz) holding ``model-index.yml`` and one metafile."""
    import io
    import tarfile
    import zipfile

    import yaml

    files = {
        f"{root}model-index.yml": yaml.safe_dump({"Import": [f"configs/{folder}/metafile.yaml"]}),
        f"{root}configs/{folder}/metafile.yaml": yaml.safe_dump(metafile),
        f"{root}configs/{folder}/{FCN_ADE}.py": "model = dict()\n",
    }
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(path, "w") as archive:
            for name, text in files.items():
                archive.writestr(name, text)
    else:
        with tarfile.open(path, "w:gz") as archive:
            for name, text in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(text.encode())
                archive.addfile(info, io.BytesIO(text.encode()))
    return path


def test_openmmlab_wheels_and_sdists_give_the_models_that_fit_a_config(tmp_path, capsys):
    generator = _generator()
    wheel = _write_distribution(
        tmp_path / "mmsegmentation-1.2.2-py3-none-any.whl", "mmseg/.mim/", SEG_METAFILE, "fcn"
    )
    sdist = _write_distribution(
        tmp_path / "mmsegmentation-1.2.2.tar.gz", "mmsegmentation-1.2.2/", SEG_METAFILE, "fcn"
    )
    (entry,) = generator.openmmlab_entries(wheel)
    assert generator.openmmlab_entries(sdist) == [entry]
    assert entry.name == f"mm_{FCN_ADE}" and entry.config == f"labseg::fcn/{FCN_ADE}.py"
    assert (entry.source.package, entry.source.version) == ("mmsegmentation", "1.2.2")
    assert entry.weights.sha256_prefix == "4edbc3b4" and entry.dataset == "ADE20K"
    assert entry.weights.converter == "labseg.models.convert:convert_openmmlab_segmentor"
    assert entry.metrics == {"mIoU": 36.1} and entry.task == "semantic-segmentation"
    assert entry.metrics_link == (
        "https://github.com/open-mmlab/mmsegmentation/blob/v1.2.2/configs/fcn/README.md"
    )
    assert entry.params == generator.config_parameters(entry.config)
    left_out = capsys.readouterr().err
    assert "voc12aug" in left_out and "pspnet_r50-d8_4xb4-160k_ade20k" in left_out
    assert generator.openmmlab_output("mmsegmentation").name == (
        "imported-openmmlab-mmsegmentation.yml"
    )


def test_detection_families_whose_architecture_differs_are_left_out_with_why(tmp_path, capsys):
    metafile = {
        "Models": [
            {
                "Name": "retinanet_r50_fpn_1x_coco",
                "Config": "configs/retinanet/retinanet_r50_fpn_1x_coco.py",
                "Results": [{"Task": "Object Detection", "Dataset": "COCO", "Metrics": {"box AP": 36.5}}],
                "Weights": "https://download.openmmlab.com/x/retinanet_r50_fpn_1x_coco_20200130-c2398f9e.pth",
            }
        ]
    }  # fmt: skip
    wheel = _write_distribution(
        tmp_path / "mmdet-3.3.0-py3-none-any.whl", "mmdet/.mim/", metafile, "retinanet"
    )
    assert _generator().openmmlab_entries(wheel) == []
    assert "left out retinanet_r50_fpn_1x_coco: MMDetection's RetinaNet computes P6 from C5" in (
        capsys.readouterr().err
    )
