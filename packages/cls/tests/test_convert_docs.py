"""Every row of docs/convert.md's conversion table: the torchvision weights of each
builder, converted by labcore.models.convert, load strictly into the labcls config the
table names for them (shapes checked on the meta device: no memory, no download)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torchvision
from mmengine.registry import init_default_scope

from labcls.registry import MODELS
from labcore.engine.config import load_config
from labcore.models.convert import convert_torchvision_classifier

DOCS = Path(__file__).resolve().parents[3] / "docs" / "convert.md"

# The torchvision builder whose weights each config of the table takes.
BUILDER_OF_CONFIG = {
    "resnet/resnet18_8xb32_in1k.py": "resnet18",
    "resnet/resnet34_8xb32_in1k.py": "resnet34",
    "resnet/resnet50_8xb32_in1k.py": "resnet50",
    "resnet/resnet101_8xb32_in1k.py": "resnet101",
    "resnet/resnet152_8xb32_in1k.py": "resnet152",
    "wide_resnet/wide-resnet50_8xb32_in1k.py": "wide_resnet50_2",
    "wide_resnet/wide-resnet101_8xb32_in1k.py": "wide_resnet101_2",
    "resnext/resnext50-32x4d_8xb32_in1k.py": "resnext50_32x4d",
    "mobilenet_v2/mobilenet-v2_8xb32_in1k.py": "mobilenet_v2",
    "convnext/convnext-tiny_32xb128_in1k.py": "convnext_tiny",
    "convnext/convnext-small_32xb128_in1k.py": "convnext_small",
    "convnext/convnext-base_32xb128_in1k.py": "convnext_base",
    "vision_transformer/vit-base-p16_32xb128_in1k.py": "vit_b_16",
}


def _expand(pattern: str) -> list[str]:
    """``a{1,2}b`` -> ``[a1b, a2b]`` (one brace group at most, as the table writes them)."""
    match = re.search(r"\{([^}]*)\}", pattern)
    if match is None:
        return [pattern]
    return [
        pattern[: match.start()] + part + pattern[match.end() :] for part in match[1].split(",")
    ]


def table_rows() -> list[tuple[str, str]]:
    """``(family, config)`` for every config named in the table's ``labcls config`` column."""
    rows = []
    for line in DOCS.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        family = cells[0].strip("`")
        for pattern in re.findall(r"`([^`]+\.py)`", cells[2]):
            rows += [(family, config) for config in _expand(pattern)]
    return rows


ROWS = table_rows()


def test_the_table_names_a_builder_for_every_config():
    assert {family for family, _ in ROWS} == {
        "resnet", "resnext", "mobilenet_v2", "convnext", "vit"
    }  # fmt: skip
    assert sorted(config for _, config in ROWS) == sorted(BUILDER_OF_CONFIG)


@pytest.mark.parametrize(("family", "config"), ROWS, ids=[c for _, c in ROWS])
def test_converted_torchvision_weights_load_into_the_config(family, config):
    builder = BUILDER_OF_CONFIG[config]
    with torch.device("meta"):
        reference = getattr(torchvision.models, builder)()
        converted = convert_torchvision_classifier(reference.state_dict(), family)
        init_default_scope("labcls")
        model = MODELS.build(load_config(f"labcls::{config}").model)
    model.load_state_dict(converted, strict=True, assign=True)  # names and shapes
