"""Complexity analysis (parameters, FLOPs) and the ``lab analyze`` command."""

from __future__ import annotations

import argparse

import pytest
import torch
from mmengine.config import Config

from labcore.cli import analyze as analyze_cli
from labcore.cli.main import COMMANDS, main
from labcore.errors import ConfigError
from labcore.models.analysis import complexity, complexity_table
from labcore.registry import MODELS


def run_analyze(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    analyze_cli.add_arguments(parser)
    return analyze_cli.run(parser.parse_args(list(argv)))


def test_lab_analyze_resnet50_at_the_pipeline_size(tmp_path, capsys):
    config = tmp_path / "resnet50.py"
    config.write_text(
        "default_scope = 'labcore'\n"
        "model = dict(type='ResNet', depth=50)\n"
        "test_pipeline = [dict(type='ResizeEdge', scale=256), dict(type='CenterCrop', crop_size=224)]\n"
    )
    assert run_analyze(str(config)) == 0
    out = capsys.readouterr().out
    assert "1x3x224x224 (from test pipeline)" in out
    assert "params: 23.508 M (23,508,032)" in out  # 25,557,032 minus the 1000-class fc
    flops = int(out.split("flops:")[1].split("(")[1].split(";")[0].replace(",", ""))
    assert 4.05e9 < flops < 4.15e9  # published: 4.1 GFLOPs (one multiply-add = one FLOP)


def test_lab_analyze_shape_option_table_and_missing_size(tmp_path, capsys):
    config = tmp_path / "resnet18.py"
    config.write_text("default_scope = 'labcore'\nmodel = dict(type='ResNet', depth=18)\n")
    with pytest.raises(ConfigError, match="--shape H W"):
        run_analyze(str(config))
    assert run_analyze(str(config), "--shape", "64", "96", "--table", "--depth", "1") == 0
    out = capsys.readouterr().out
    assert "1x3x64x96 (from --shape)" in out and "layer4" in out.split("flops:")[1]
    assert {"analyze", "convert"} <= set(COMMANDS)


@pytest.mark.parametrize(
    "pipeline, size",
    [
        ([dict(type="Resize", scale=(1333, 800), keep_ratio=True)], (800, 1333)),
        (
            [dict(type="ResizeEdge", scale=256), dict(type="CenterCrop", crop_size=(224, 192))],
            (192, 224),
        ),
        ([dict(type="Resize", size=(320, 480))], (320, 480)),
        ([dict(type="LoadImageFromFile")], None),
    ],
)
def test_input_size_from_test_dataloader(pipeline, size):
    cfg = Config(dict(test_dataloader=dict(dataset=dict(pipeline=pipeline))))
    found = analyze_cli.input_size_from_config(cfg)
    assert (found and found[0]) == size


def test_input_size_from_synthetic_data_set():
    dataset = dict(pipeline=[dict(type="LoadImageFromFile")], generate=dict(image_size=32))
    cfg = Config(dict(val_dataloader=dict(dataset=dataset)))
    assert analyze_cli.input_size_from_config(cfg) == ((32, 32), "test dataset generate.image_size")


def test_attention_is_counted_in_vit_flops():
    model = MODELS.build(dict(type="VisionTransformer", arch="small", img_size=224, patch_size=16))
    stats = complexity(model, (3, 224, 224))
    # published DeiT-S (ViT-S/16) at 224: 4.6 GFLOPs, of which attention (q k^T, a v) is 0.36 G
    assert 4.55e9 < stats["flops"] < 4.65e9
    assert stats["params"] == 22_050_664 - 385_000  # published count minus the 1000-class head


def test_convnext_tiny_flops_and_training_mode_is_restored():
    model = MODELS.build(dict(type="ConvNeXt", arch="tiny")).train()
    stats = complexity(model, (3, 224, 224))
    assert 4.4e9 < stats["flops"] < 4.5e9  # published: 4.46 GFLOPs
    assert model.training
    assert "downsample_layers" in complexity_table(model, (3, 64, 64), max_depth=1)


def test_complexity_checks_the_shape():
    with pytest.raises(ConfigError, match="channels, height, width"):
        complexity(torch.nn.Conv2d(3, 3, 1), (224, 224))


def test_lab_command_reports_a_missing_size_as_a_user_error(tmp_path, capsys):
    config = tmp_path / "mobilenet.py"
    config.write_text("default_scope = 'labcore'\nmodel = dict(type='MobileNetV2')\n")
    assert main(["analyze", str(config)]) == 2
    assert "lab analyze: error:" in capsys.readouterr().err
    assert main(["analyze", str(config), "--shape", "32", "32"]) == 0
