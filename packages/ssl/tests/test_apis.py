"""labssl's codebase declaration and its inference API."""

import numpy as np
import torch

from labcore.codebase import get_codebase
from labssl.apis import format_result, inference, init_model, show_result


def test_the_codebase_is_declared_and_embeds_images(tmp_path):
    codebase = get_codebase("labssl")
    assert codebase.config_dir.joinpath("simclr", "metafile.yml").is_file()
    model = codebase.init_model("labssl::simclr/simclr_resnet18_tiny_shapes.py")
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    one, both = inference(model, image), inference(model, [image, image])
    assert one.features.shape == (128,) and len(both) == 2
    torch.testing.assert_close(both[0].features, one.features)
    assert "features: 128 values" in format_result(one)
    drawing = show_result(image, one, out_file=tmp_path / "out.png")
    assert (tmp_path / "out.png").is_file() and drawing.ndim == 3


def test_a_probe_classifies_and_embeds():
    model = init_model("labssl::linear_probe/linear-probe_random-init_resnet18_tiny_shapes.py")
    image = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    result = inference(model, image)
    assert result.pred_score.shape == (8,) and result.features.shape == (128,)
    assert "class" in format_result(result)
