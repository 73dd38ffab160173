"""init_model / inference / format_result / show_result, and `lab infer` writing a colour
overlay PNG, through the codebase declared for ``openlab.codebases``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from labcore.cli.main import main
from labcore.codebase import get_codebase
from labcore.zoo.weights import save_safetensors
from labseg.datasets.seg_dataset import make_palette

CONFIG = "labseg::fcn/fcn_r18-d8_shapes.py"


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = get_codebase("labseg").init_model(CONFIG)
    model.dataset_meta = dict(classes=tuple(f"class{i}" for i in range(9)), palette=make_palette(9))
    return model


def test_inference_on_paths_and_arrays(model, shapes_seg):
    path = sorted((shapes_seg / "images" / "val").glob("*.jpg"))[0]
    result = get_codebase("labseg").inference(model, str(path))
    assert result.pred_sem_seg.data.shape == (1, 128, 128)
    assert result.seg_logits.data.shape == (9, 128, 128)
    array = np.array(Image.open(path).convert("RGB"))[:50, :70]
    results = get_codebase("labseg").inference(model, [array, array])
    assert [r.pred_sem_seg.data.shape for r in results] == [(1, 50, 70)] * 2
    text = get_codebase("labseg").format_result(results[0])
    assert text.splitlines()[0].startswith("class") and "%" in text


def test_show_result_blends_the_class_colours(model, tmp_path):
    image = np.full((20, 30, 3), 200, dtype=np.uint8)
    result = get_codebase("labseg").inference(model, image)
    labels = result.pred_sem_seg.data[0].numpy()
    out = get_codebase("labseg").show_result(image, result, out_file=tmp_path / "o.png")
    colours = np.asarray(make_palette(9))[labels]
    np.testing.assert_allclose(out, np.round(0.5 * 200 + 0.5 * colours), atol=1)
    assert np.array_equal(np.array(Image.open(tmp_path / "o.png")), out)


def test_lab_infer_writes_an_overlay_png(model, shapes_seg, tmp_path, capsys):
    checkpoint = save_safetensors(model.state_dict(), tmp_path / "model.safetensors", {})
    image = sorted((shapes_seg / "images" / "val").glob("*.jpg"))[0]
    out = tmp_path / "overlay.png"
    assert main(["infer", CONFIG, str(checkpoint), str(image), "--out-file", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    overlay = Image.open(out)
    assert overlay.size == (128, 128) and overlay.mode == "RGB"
