"""State-dict converters from torchvision and OpenMMLab classifiers to OpenLab's layout.

An OpenLab image classifier holds ``backbone.*`` (a labcore backbone), ``neck.*`` and a
linear head ``head.fc.weight`` / ``head.fc.bias``. The converters below rename the keys
of a torchvision model (``torchvision.models.resnet50().state_dict()``) or of an
OpenMMLab (MMPretrain) checkpoint into that layout; values are never changed except for
reshapes (ConvNeXt's layer scale). Per family:

====================  ===========================================================
family                torchvision -> OpenLab
====================  ===========================================================
resnet, resnext       ``fc.*`` -> ``head.fc.*``; every other key -> ``backbone.<key>``
mobilenet_v2          ``features.*`` -> ``backbone.features.*``; ``classifier.1.*`` -> ``head.fc.*``
convnext              ``features.{0,2,4,6}`` -> ``backbone.downsample_layers.{0..3}``,
                      ``features.{1,3,5,7}.j.block.{0,2,3,5}`` ->
                      ``backbone.stages.{0..3}.j.{depthwise_conv,norm,pointwise_conv1,pointwise_conv2}``,
                      ``layer_scale`` [C, 1, 1] -> ``gamma`` [C], ``classifier.0`` ->
                      ``backbone.norm3``, ``classifier.2`` -> ``head.fc``
vit                   ``conv_proj`` -> ``patch_embed``, ``class_token`` -> ``cls_token``,
                      ``encoder.pos_embedding`` -> ``pos_embed``,
                      ``encoder.layers.encoder_layer_i.{ln_1,self_attention.in_proj_*,
                      self_attention.out_proj,ln_2,mlp.0,mlp.3}`` (``mlp.linear_1``,
                      ``mlp.linear_2`` in the published weight files) ->
                      ``layers.i.{ln1,attn.qkv.*,attn.proj,ln2,ffn.fc1,ffn.fc2}``,
                      ``encoder.ln`` -> ``ln1``, ``heads.{head,pre_logits}`` ->
                      ``head.layers.{head,pre_logits}`` (labcls' VisionTransformerClsHead)
====================  ===========================================================

OpenMMLab checkpoints already use ``backbone.`` / ``head.fc.`` for ResNet, ResNeXt and
ConvNeXt (and ``head.layers.head`` for ViT); their deep stems (``stem.i.conv``/``stem.i.bn`` -> ``stem.i.0``/``stem.i.1``),
MobileNetV2 (``conv1``, ``layer1`` .. ``layer7``, ``conv2`` -> ``features.0`` .. ``features.18``)
and ViT (``patch_embed.projection``, ``ffn.layers.0.0``, ``ffn.layers.1``) are renamed.

The ViT head is the exception to ``head.fc``: its linear layer is ``head.layers.head``
(with an optional ``head.layers.pre_logits``), the layout of torchvision's ``heads`` that
labcls' VisionTransformerClsHead keeps.

The ``lab convert`` command applies these to a file and writes safetensors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from torch import Tensor

from labcore.errors import CheckpointError, ConfigError
from labcore.models.rename import Rule, rename_keys

FAMILIES = ("resnet", "resnext", "mobilenet_v2", "convnext", "vit")
SOURCES = ("torchvision", "openmmlab")

# MobileNetV2 stages: number of inverted residual blocks per stage (layer1 .. layer7).
_MOBILENET_V2_BLOCKS = (1, 2, 3, 4, 3, 3, 1)


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ConfigError(f"Unknown model family '{family}'; choose one of {', '.join(FAMILIES)}.")


def _convnext_torchvision(match: re.Match) -> str:
    index, rest = int(match[1]), match[2]
    if index % 2 == 0:  # stem (0) or a downsampling layer (2, 4, 6)
        return f"backbone.downsample_layers.{index // 2}.{rest}"
    block = re.fullmatch(r"(\d+)\.(layer_scale|block\.(\d+)\.(weight|bias))", rest)
    if block is None:
        return ""
    stage = (index - 1) // 2
    if block[2] == "layer_scale":
        return f"backbone.stages.{stage}.{block[1]}.gamma"
    names = {"0": "depthwise_conv", "2": "norm", "3": "pointwise_conv1", "5": "pointwise_conv2"}
    if block[3] not in names:
        return ""
    return f"backbone.stages.{stage}.{block[1]}.{names[block[3]]}.{block[4]}"


TORCHVISION_RULES: dict[str, list[Rule]] = {
    "resnet": [(r"fc\.(weight|bias)", r"head.fc.\1"), (r"(.*)", r"backbone.\1")],
    "mobilenet_v2": [
        (r"classifier\.1\.(weight|bias)", r"head.fc.\1"),
        (r"(features\..*)", r"backbone.\1"),
    ],
    "convnext": [
        (r"classifier\.0\.(weight|bias)", r"backbone.norm3.\1"),
        (r"classifier\.2\.(weight|bias)", r"head.fc.\1"),
        (r"features\.(\d+)\.(.*)", _convnext_torchvision),
    ],
    "vit": [
        (r"class_token", "backbone.cls_token"),
        (r"conv_proj\.(weight|bias)", r"backbone.patch_embed.\1"),
        (r"encoder\.pos_embedding", "backbone.pos_embed"),
        (r"encoder\.ln\.(weight|bias)", r"backbone.ln1.\1"),
        (r"heads\.(head|pre_logits)\.(weight|bias)", r"head.layers.\1.\2"),
        (r"encoder\.layers\.encoder_layer_(\d+)\.ln_(\d)\.(weight|bias)", r"backbone.layers.\1.ln\2.\3"),
        (r"encoder\.layers\.encoder_layer_(\d+)\.self_attention\.in_proj_(weight|bias)", r"backbone.layers.\1.attn.qkv.\2"),
        (r"encoder\.layers\.encoder_layer_(\d+)\.self_attention\.out_proj\.(weight|bias)", r"backbone.layers.\1.attn.proj.\2"),
        (r"encoder\.layers\.encoder_layer_(\d+)\.mlp\.(?:0|linear_1)\.(weight|bias)", r"backbone.layers.\1.ffn.fc1.\2"),
        (r"encoder\.layers\.encoder_layer_(\d+)\.mlp\.(?:3|linear_2)\.(weight|bias)", r"backbone.layers.\1.ffn.fc2.\2"),
    ],
}  # fmt: skip
TORCHVISION_RULES["resnext"] = TORCHVISION_RULES["resnet"]


def _mobilenet_v2_openmmlab(match: re.Match) -> str:
    """``backbone.layer{i}.{j}.conv.{k}.{conv|bn}.*`` -> ``backbone.features.{n}.conv.*``."""
    stage, block, conv_index, part, rest = (
        int(match[1]),
        int(match[2]),
        int(match[3]),
        match[4],
        match[5],
    )
    index = 1 + sum(_MOBILENET_V2_BLOCKS[: stage - 1]) + block
    num_convs = 2 if stage == 1 else 3  # the first stage has no expansion conv
    if conv_index == num_convs - 1:  # linear projection: plain conv then norm
        target = conv_index if part == "conv" else conv_index + 1
        return f"backbone.features.{index}.conv.{target}.{rest}"
    return f"backbone.features.{index}.conv.{conv_index}.{0 if part == 'conv' else 1}.{rest}"


OPENMMLAB_RULES: dict[str, list[Rule]] = {
    "resnet": [
        (r"backbone\.stem\.(\d)\.conv\.(.*)", r"backbone.stem.\1.0.\2"),
        (r"backbone\.stem\.(\d)\.bn\.(.*)", r"backbone.stem.\1.1.\2"),
        (r"(backbone\..*|head\.fc\..*)", r"\1"),
    ],
    "mobilenet_v2": [
        (r"backbone\.conv1\.conv\.(.*)", r"backbone.features.0.0.\1"),
        (r"backbone\.conv1\.bn\.(.*)", r"backbone.features.0.1.\1"),
        (r"backbone\.conv2\.conv\.(.*)", r"backbone.features.18.0.\1"),
        (r"backbone\.conv2\.bn\.(.*)", r"backbone.features.18.1.\1"),
        (r"backbone\.layer(\d)\.(\d+)\.conv\.(\d)\.(conv|bn)\.(.*)", _mobilenet_v2_openmmlab),
        (r"(head\.fc\..*)", r"\1"),
    ],
    "convnext": [(r"(backbone\..*|head\.fc\..*)", r"\1")],
    "vit": [
        (r"backbone\.patch_embed\.projection\.(.*)", r"backbone.patch_embed.\1"),
        (r"backbone\.layers\.(\d+)\.ffn\.layers\.0\.0\.(.*)", r"backbone.layers.\1.ffn.fc1.\2"),
        (r"backbone\.layers\.(\d+)\.ffn\.layers\.1\.(.*)", r"backbone.layers.\1.ffn.fc2.\2"),
        (r"(head\.layers\.(head|pre_logits)\..*)", r"\1"),
        (r"(backbone\.(cls_token|pos_embed|ln1\..*|layers\.\d+\.(ln1|ln2|attn\.qkv|attn\.proj)\..*))", r"\1"),
    ],
}  # fmt: skip
OPENMMLAB_RULES["resnext"] = OPENMMLAB_RULES["resnet"]


def _rename(state_dict: Mapping[str, Tensor], rules: list[Rule], what: str) -> dict[str, Tensor]:
    converted = rename_keys(
        state_dict,
        rules,
        source=what,
        supported="Check that the source (--from) and --family match the checkpoint "
        "(see `lab convert --help`).",
    )
    return {  # ConvNeXt's layer scale [C, 1, 1] -> [C]
        key: value.reshape(-1) if key.endswith(".gamma") and value.ndim == 3 else value
        for key, value in converted.items()
    }


def detect_torchvision_family(state_dict: Mapping[str, Tensor]) -> str:
    """The family of a torchvision classifier state dict, told from its key names."""
    keys = set(state_dict)
    if "conv_proj.weight" in keys:
        return "vit"
    if "classifier.2.weight" in keys and "features.1.0.layer_scale" in keys:
        return "convnext"
    if "classifier.1.weight" in keys and "features.18.0.weight" in keys:
        return "mobilenet_v2"
    if "fc.weight" in keys and "layer1.0.conv1.weight" in keys:
        conv2 = state_dict.get("layer1.0.conv2.weight")
        grouped = (
            conv2 is not None
            and "layer1.0.conv3.weight" in keys
            and conv2.shape[1] != conv2.shape[0]
        )
        return "resnext" if grouped else "resnet"
    raise CheckpointError(
        "Cannot tell the model family of this torchvision state dict (first keys: "
        f"{', '.join(list(state_dict)[:5])}); pass --family with one of {', '.join(FAMILIES)}."
    )


def convert_torchvision_classifier(
    state_dict: Mapping[str, Tensor], family: str
) -> dict[str, Tensor]:
    """A torchvision classifier's state dict with OpenLab keys (``backbone.*``, ``head.fc.*``;
    ``head.layers.*`` for ViT).

    ``family``: one of :data:`FAMILIES` (torchvision's ``resnet*``, ``resnext*``,
    ``mobilenet_v2``, ``convnext_*``, ``vit_*``). Raises CheckpointError naming the keys
    that have no OpenLab name.
    """
    _check_family(family)
    return _rename(state_dict, TORCHVISION_RULES[family], f"torchvision {family}")


def convert_openmmlab_classifier(
    state_dict: Mapping[str, Tensor], family: str
) -> dict[str, Tensor]:
    """An OpenMMLab (MMPretrain) ImageClassifier state dict with OpenLab keys."""
    _check_family(family)
    return _rename(state_dict, OPENMMLAB_RULES[family], f"OpenMMLab {family}")


def convert_classifier(
    state_dict: Mapping[str, Tensor], *, source: str, family: str | None = None
) -> dict[str, Tensor]:
    """Convert from ``source`` ('torchvision' or 'openmmlab'); the family of a torchvision
    state dict is detected when not given."""
    if source == "torchvision":
        family = family or detect_torchvision_family(state_dict)
        return convert_torchvision_classifier(state_dict, family)
    if source == "openmmlab":
        if family is None:
            raise ConfigError(
                f"Converting an OpenMMLab checkpoint needs a family: one of {', '.join(FAMILIES)}."
            )
        return convert_openmmlab_classifier(state_dict, family)
    raise ConfigError(f"Unknown checkpoint source '{source}'; choose one of {', '.join(SOURCES)}.")
