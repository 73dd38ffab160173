"""``lab test CONFIG zoo://NAME`` compares what it measured with the metrics the zoo entry
records: an imported torchvision resnet18 served under its upstream-style name from a
real HTTP server on 127.0.0.1, evaluated on the synthetic shapes set; a trained entry
against its mean over seeds; and the name table of upstream metrics."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
import yaml
from PIL import Image

from labcore.cli.main import main
from labcore.cli.test import print_comparison
from labcore.zoo.compare import compare
from labcore.zoo.manifest import read_manifest
from labcore.zoo.metric_names import UPSTREAM_METRICS, counterpart, scale_mismatch

IN1K_CONFIG = Path(__file__).parents[2] / "cls/labcls/configs/resnet/resnet18_8xb32_in1k.py"
LINK = "https://pytorch.org/vision/stable/models/generated/torchvision.models.resnet18.html"
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


@pytest.fixture
def zoo_env(zoo_env, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")  # narrower than the table, which still never wraps
    return zoo_env


def shapes_resnet18() -> torchvision.models.ResNet:
    """torchvision's resnet18 with random weights whose 1000-way head can only pick the
    8 shapes classes (the others get a bias of -100), so its accuracy is not zero."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    with torch.no_grad():
        model.fc.bias[8:] = -100.0
    return model


def serve_upstream(server, model, stem="resnet18") -> tuple[str, str]:
    """Serve the model's state dict as torchvision names it: ``<stem>-<sha256[:8]>.pth``."""
    staging = server.models.parent.parent / "staging.pth"
    torch.save(model.state_dict(), staging)
    prefix = hashlib.sha256(staging.read_bytes()).hexdigest()[:8]
    name = f"{stem}-{prefix}.pth"
    shutil.copyfile(staging, server.models / name)
    return f"{server.url}/{name}", prefix


def write_imported(zoo_env, url, prefix, metrics) -> None:
    entry = dict(
        kind="imported",
        name="tv_resnet18_test",
        codebase="labcls",
        config="labcls::resnet/resnet18_8xb32_in1k.py",
        task="image-classification",
        source=dict(
            project="torchvision",
            package="torchvision",
            version="0.0",
            weights="ResNet18_Weights.IMAGENET1K_V1",
        ),
        weights=dict(
            url=url,
            sha256_prefix=prefix,
            layout="torchvision",
            converter="labcore.models.convert:convert_torchvision_classifier",
            converter_args={"family": "resnet"},
        ),
        metrics=metrics,
        dataset="ImageNet-1K",
        metrics_link=LINK,
        params=11_689_512,
        license="BSD-3-Clause",
    )
    path = zoo_env / "manifests" / "imported-test.yml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"schema_version": 2, "models": [entry]}))


def shapes_config(tmp_path, data_root) -> Path:
    """The ImageNet resnet18 config, tested on the shapes val set at its 32x32 size."""
    path = tmp_path / "resnet18_in1k_on_shapes.py"
    path.write_text(
        f"_base_ = [{str(IN1K_CONFIG)!r}]\n"
        "test_dataloader = dict(batch_size=40, num_workers=0, persistent_workers=False,\n"
        "    dataset=dict(_delete_=True, type='ShapesDataset', split='val',\n"
        f"        data_root={str(data_root)!r},\n"
        "        pipeline=[dict(type='LoadImageFromFile'), dict(type='PackClsInputs')]))\n"
        "test_evaluator = dict(type='Accuracy', topk=(1, 5))\n"
    )
    return path


def reference_accuracy(model, data_root: Path) -> tuple[float, float]:
    """Top-1 and top-5 of ``model`` on the shapes val set, in plain torch and Pillow."""
    images, labels = [], []
    for line in (data_root / "meta" / "val.txt").read_text().splitlines():
        file_name, label = line.split()
        image = np.asarray(Image.open(data_root / "val" / file_name).convert("RGB"))
        images.append(torch.from_numpy(image.copy()).permute(2, 0, 1).float())
        labels.append(int(label))
    batch = (torch.stack(images) - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[
        :, None, None
    ]
    with torch.no_grad():
        top5 = model(batch).topk(5, dim=1).indices
    hits = top5 == torch.tensor(labels)[:, None]
    return hits[:, 0].float().mean().item(), hits.any(dim=1).float().mean().item()


def test_lab_test_compares_an_imported_model_with_its_published_metrics(
    zoo_env, server, shapes_cls, capsys
):
    model = shapes_resnet18()
    url, prefix = serve_upstream(server, model)
    published = {"acc@1": 69.758, "acc@5": 89.078, "acc@1 (10-crop)": 71.2}
    write_imported(zoo_env, url, prefix, published)
    config = shapes_config(zoo_env, shapes_cls)
    out = zoo_env / "metrics.json"

    argv = ["test", str(config), "zoo://tv_resnet18_test", "--work-dir", str(zoo_env / "w")]
    assert main([*argv, "--no-mlflow", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result == json.loads(out.read_text())

    top1, top5 = reference_accuracy(model, shapes_cls)
    assert result["accuracy/top1"] == pytest.approx(top1, abs=1e-6)
    assert result["accuracy/top5"] == pytest.approx(top5, abs=1e-6)
    assert 0 < top5 <= 1  # a fraction; the table shows it x 100

    comparison = result["zoo_comparison"]
    assert comparison["kind"] == "imported" and comparison["link"] == LINK
    rows = {row["name"]: row for row in comparison["rows"]}
    for name, key, fraction in (("acc@1", "accuracy/top1", top1), ("acc@5", "accuracy/top5", top5)):
        row = rows[name]
        assert row["key"] == key and row["unit"] == "%" and row["scale"] == 100
        assert row["recorded"] == published[name]
        assert row["measured_value"] == result[key]
        assert row["measured"] == pytest.approx(100 * fraction, abs=1e-4)
        assert row["difference"] == pytest.approx(100 * fraction - published[name], abs=1e-4)
        table_row = next(line for line in stdout.splitlines() if f" {name} " in line)
        for cell in (key, f"{published[name]:.3f}", f"{100 * result[key]:.3f}"):
            assert cell in table_row
        assert f"{100 * result[key] - published[name]:+.3f}" in table_row
        assert f"{name}: measured = {key} x 100 " in stdout
    unmatched = rows["acc@1 (10-crop)"]
    assert unmatched["key"] is None and unmatched["measured"] is None
    assert unmatched["unit"] == ""  # an unknown name's unit is not guessed either
    assert "acc@1 (10-crop) (71.2): no counterpart" in stdout
    assert f"on ImageNet-1K: {LINK}" in stdout
    assert f"measured on the test set of {config} (ShapesDataset)" in stdout
    assert "published with the config labcls::resnet/resnet18_8xb32_in1k.py" in stdout


def test_a_bare_zoo_name_is_refused_with_the_zoo_form(zoo_env, server, capsys):
    write_imported(zoo_env, f"{server.url}/resnet18-0123abcd.pth", "0123abcd", {"acc@1": 1.0})
    status = main(["test", str(IN1K_CONFIG), "tv_resnet18_test", "--no-mlflow"])
    assert status == 2
    assert "give zoo://tv_resnet18_test" in capsys.readouterr().err


def test_a_trained_entry_is_compared_with_its_mean_over_seeds(tmp_path):
    path = tmp_path / "labcls.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "schema_version": 1,
                "codebase": "labcls",
                "models": [
                    {
                        "name": "resnet18_tiny_shapes",
                        "codebase": "labcls",
                        "config": "labcls::resnet/resnet18_tiny_shapes.py",
                        "task": "image-classification",
                        "protocol": {"name": "cls-shapes-tiny", "version": 1},
                        "metrics": {
                            "accuracy/top1": {"mean": 0.9, "std": 0.02, "published": 0.91},
                            "single-label/f1-score": {"mean": 0.8, "std": 0.01},
                        },
                        "seeds": [0, 1, 2],
                        "published_seed": 1,
                        "params": 1000,
                        "weights": {
                            "path": "labcls/r/r-0123abcd.safetensors",
                            "urls": ["http://127.0.0.1:1/r-0123abcd.safetensors"],
                            "sha256": "0" * 64,
                            "size": 10,
                        },
                        "date": "2026-12-01",
                        "license": "Apache-2.0",
                    }
                ],
            }
        )
    )
    entry = read_manifest(path).models[0]
    comparison = compare(entry, {"accuracy/top1": 0.875})
    assert comparison.kind == "trained" and comparison.link is None
    assert "seeds 0, 1, 2" in comparison.source and "cls-shapes-tiny v1" in comparison.dataset
    top1, f1 = comparison.rows
    assert (top1.recorded, top1.std, top1.published_seed) == (0.9, 0.02, 0.91)
    assert (top1.unit, top1.scale, top1.measured) == ("fraction", 1.0, 0.875)
    assert top1.difference == pytest.approx(-0.025)
    assert f1.measured is None and "reported no 'single-label/f1-score'" in f1.note

    text = io.StringIO()
    print_comparison(comparison, entry.config, {"test_dataloader": {"dataset": {}}}, file=text)
    text = text.getvalue()
    header = next(line for line in text.splitlines() if "recorded mean" in line)
    assert "std" in header and "published seed" in header
    row = next(line for line in text.splitlines() if " accuracy/top1 " in line)
    for cell in ("0.9000", "0.0200", "0.9100", "0.8750", "-0.0250", "fraction"):
        assert cell in row
    assert "recorded by OpenLab, mean over seeds 0, 1, 2 under protocol cls-shapes-tiny v1" in text
    assert "published with the config" not in text  # evaluated with the entry's own config


def test_every_published_metric_name_in_the_manifests_has_a_decided_counterpart():
    """Each metric name the imported manifests use is in the table: an OpenLab key, or
    no counterpart with the reason (never a silent guess)."""
    manifests = sorted((Path(__file__).parents[3] / "model_zoo").glob("imported-*.yml"))
    published = [
        (entry.name, name, value)
        for path in manifests
        for entry in read_manifest(path).models
        for name, value in entry.metrics.items()
    ]
    assert published, "no imported manifests found"
    assert sorted({name for _, name, _ in published} - set(UPSTREAM_METRICS)) == []
    # every published value lies on the scale the table states for its name
    wrong = [(e, n, v) for e, n, v in published if scale_mismatch(v, counterpart(n))]
    assert wrong == []
    assert counterpart("AP").unit == "fraction" and counterpart("box AP").unit == "%"
    assert counterpart("mIoU(ms+flip)").key is None
    assert counterpart("mIoU").key == "seg/mIoU"
    assert counterpart("box AP").key == counterpart("box_map").key == "coco/bbox_mAP"


def test_a_published_value_off_its_stated_scale_is_flagged(tmp_path):
    """acc@1 is published in percent: a manifest value of 0.7 is compared as stated (0.7 %)
    but the row says the unit looks wrong, instead of silently rescaling it."""
    url = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    write_imported(tmp_path, url, "f37072fd", {"acc@1": 0.7, "AP": 74.6})
    (entry,) = read_manifest(tmp_path / "manifests" / "imported-test.yml").models
    rows = {r.name: r for r in compare(entry, {"accuracy/top1": 0.5}).rows}
    assert rows["acc@1"].measured == 50.0 and rows["acc@1"].difference == pytest.approx(49.3)
    assert "check the unit: 0.7 does not look like a percentage" in rows["acc@1"].note
    assert "74.6 is not a fraction in [0, 1]" in rows["AP"].note
    assert "reported no 'coco/keypoints_mAP'" in rows["AP"].note
