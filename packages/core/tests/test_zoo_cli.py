"""``lab zoo``: import torchvision weights into a labcore backbone, list/show/verify/docs,
and the MLflow model registry as a destination and a source."""

from __future__ import annotations

import argparse

import pytest
import torch
import torch.nn.functional as F
import yaml

from labcore import zoo
from labcore.cli import main as lab_main
from labcore.cli import zoo as zoo_cli
from labcore.errors import CheckpointError
from labcore.registry import MODELS
from labcore.zoo.manifest import ZooEntry, write_entries


def lab_zoo(*argv) -> int:
    parser = argparse.ArgumentParser(prog="lab zoo")
    zoo_cli.add_arguments(parser)
    return zoo_cli.run(parser.parse_args([str(a) for a in argv]))


@pytest.fixture
def zoo_env(zoo_env):
    """The conftest's zoo, and a labcore config of ResNet-18 to import weights into."""
    config = zoo_env / "resnet18.py"
    config.write_text("default_scope = 'labcore'\nmodel = dict(type='ResNet', depth=18)\n")
    return zoo_env, config


def import_resnet18(tmp_path, config, path, name="tv_resnet18"):
    return lab_zoo(
        "import", path, "--layout", "torchvision", "--family", "resnet", "--name", name,
        "--config", config, "--dest", tmp_path / "served", "--task", "image-classification",
        "--codebase", "labcore", "--params", 11_689_512, "--metric", "top1=0.0",
        "--manifest-dir", tmp_path / "manifests",
    )  # fmt: skip


def test_zoo_is_a_lab_command():
    assert "zoo" in lab_main.COMMANDS


def test_import_torchvision_resnet18_into_a_labcore_backbone(zoo_env, torchvision_resnet18):
    tmp_path, config = zoo_env
    reference, path = torchvision_resnet18
    assert import_resnet18(tmp_path, config, path) == 0
    state = zoo.load("tv_resnet18")
    assert {k.split(".")[0] for k in state} == {"backbone", "head"}
    backbone = MODELS.build(
        dict(
            type="ResNet",
            depth=18,
            init_cfg=dict(type="Pretrained", checkpoint="zoo://tv_resnet18", prefix="backbone."),
        )
    )
    backbone.init_weights()
    backbone.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        features = backbone(x)[-1].mean((2, 3))
        logits = F.linear(features, state["head.fc.weight"], state["head.fc.bias"])
        torch.testing.assert_close(logits, reference(x), atol=1e-5, rtol=1e-5)

    # a manifest entry may also name the source layout: the .pth is converted on load
    imported = zoo.find_entry("tv_resnet18")
    raw = imported.model_copy(
        update={
            "name": "tv_resnet18_raw",
            "weights": imported.weights.model_copy(
                update={
                    "urls": [path.as_uri()],
                    "path": f"labcore/raw/{path.name}",
                    "sha256": zoo.sha256_file(path),
                    "size": path.stat().st_size,
                    "format": "pth",
                    "layout": "torchvision",
                    "family": "resnet",
                }
            ),
        }
    )
    # an OpenMMLab (MMPretrain) ResNet checkpoint: backbone.conv1 / bn1 / layerN.M.bnK, head.fc
    mmpretrain = {
        ("head." if k.startswith("fc.") else "backbone.") + k: v
        for k, v in reference.state_dict().items()
    }
    mm_path = tmp_path / "resnet18_mmpretrain.pth"
    torch.save({"meta": {"epoch": 100}, "state_dict": mmpretrain}, mm_path)
    mm = raw.model_copy(
        update={
            "name": "mm_resnet18",
            "weights": raw.weights.model_copy(
                update={
                    "urls": [mm_path.as_uri()],
                    "path": f"labcore/raw/{mm_path.name}",
                    "sha256": zoo.sha256_file(mm_path),
                    "size": mm_path.stat().st_size,
                    "layout": "openmmlab",
                }
            ),
        }
    )
    write_entries([raw, mm], tmp_path / "manifests")
    for name in ("tv_resnet18_raw", "mm_resnet18"):
        converted = zoo.load(name)
        assert converted.keys() == state.keys()
        assert all(torch.equal(converted[k], state[k]) for k in state)


def test_list_show_verify_and_docs(zoo_env, torchvision_resnet18, capsys):
    tmp_path, config = zoo_env
    import_resnet18(tmp_path, config, torchvision_resnet18[1])
    capsys.readouterr()
    assert lab_zoo("list", "--task", "image-classification") == 0
    out = capsys.readouterr().out
    assert "tv_resnet18" in out and "external@1" in out and "11.69M" in out
    assert lab_zoo("list", "--task", "object-detection") == 0
    assert "no published models match" in capsys.readouterr().out

    assert lab_zoo("show", "tv_resnet18") == 0
    shown = capsys.readouterr().out
    assert yaml.safe_load(shown)["weights"]["layout"] == "openlab"
    assert "# cache:" in shown and "not downloaded" in shown

    assert lab_zoo("verify") == 0
    assert "tv_resnet18: not downloaded" in capsys.readouterr().out
    assert lab_zoo("verify", "--remote") == 0
    assert "tv_resnet18: OK file://" in capsys.readouterr().out
    assert lab_zoo("download", "tv_resnet18") == 0
    cached = zoo.cache_path(zoo.find_entry("tv_resnet18"))
    assert capsys.readouterr().out.strip() == str(cached)
    assert lab_zoo("verify", "tv_resnet18") == 0
    cached.write_bytes(b"x" + cached.read_bytes()[1:])
    assert lab_zoo("verify") == 1
    assert "FAILED: sha256 mismatch" in capsys.readouterr().err
    assert not cached.exists()

    docs = tmp_path / "model_zoo.md"
    assert lab_zoo("docs", "--output", docs) == 0
    assert "`tv_resnet18`" in docs.read_text()
    assert lab_zoo("docs", "--output", docs, "--check") == 0
    docs.write_text("old")
    with pytest.raises(zoo.ZooError, match="out of date"):
        lab_zoo("docs", "--output", docs, "--check")


class NotWeights:
    """An arbitrary class: a checkpoint holding it must not be unpickled."""


def test_checkpoints_are_never_unpickled_unrestricted(zoo_env, tmp_path):
    _, config = zoo_env
    path = tmp_path / "untrusted.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "extra": NotWeights()}, path)
    with pytest.raises(CheckpointError, match="not allowed"):
        zoo.publish_checkpoint(
            path, name="untrusted", config=str(config), dest=tmp_path / "out",
            protocol="external", codebase="labcore", task="image-classification", params=1,
            manifest_dir=tmp_path / "manifests",
        )  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_metric_syntax():
    metrics = zoo_cli.parse_metrics(["top1=0.95+-0.01@0.96", "top5=0.99", "mAP=0.4+-0.02"])
    assert (metrics["top1"].mean, metrics["top1"].std, metrics["top1"].published) == (
        0.95,
        0.01,
        0.96,
    )
    assert (metrics["top5"].std, metrics["top5"].published) == (0.0, 0.99)
    assert metrics["mAP"].published is None
    with pytest.raises(zoo.ZooError, match="NAME=MEAN"):
        zoo_cli.parse_metrics(["top1:0.9"])


@pytest.mark.slow  # a new MLflow sqlite store costs ~10 s
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_mlflow_registry_destination_and_models_uri(zoo_env, torchvision_resnet18, monkeypatch):
    tmp_path, config = zoo_env
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    entry = zoo.publish_checkpoint(
        torchvision_resnet18[1],
        name="tv_resnet18_mlflow",
        config=str(config),
        dest="mlflow",
        protocol="external",
        codebase="labcore",
        task="image-classification",
        params=1,
        manifest_dir=tmp_path / "manifests",
    )
    assert entry.weights.urls == ["models:/tv_resnet18_mlflow/1"]
    state = zoo.load("tv_resnet18_mlflow")
    assert state.keys() == torchvision_resnet18[0].state_dict().keys()

    from mlflow.tracking import MlflowClient

    run_id = MlflowClient().get_model_version("tv_resnet18_mlflow", "1").run_id
    artifact = f"runs:/{run_id}/zoo/tv_resnet18_mlflow/{entry.weights.file_name}"
    by_run = entry.model_copy(
        update={
            "name": "tv_resnet18_run",
            "weights": entry.weights.model_copy(update={"urls": [artifact]}),
        }
    )
    write_entries([by_run], tmp_path / "manifests")
    assert zoo.load("tv_resnet18_run").keys() == state.keys()
    assert isinstance(ZooEntry.model_validate(entry.model_dump()), ZooEntry)


def test_a_codebase_that_is_not_installed_is_named():
    from mmengine.config import Config

    from labcore.codebase import CodebaseError
    from labcore.zoo.client import build_model

    cfg = Config(dict(default_scope="labnothing", model=dict(type="Nothing")))
    with pytest.raises(CodebaseError, match="No installed codebase is named 'labnothing'"):
        build_model(cfg)
