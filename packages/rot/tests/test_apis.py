"""labrot's codebase declaration and inference API: detect, format and draw oriented boxes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.structures import BaseDataElement, InstanceData
from PIL import Image

from labcore.codebase import get_codebase
from labrot.apis import format_result, inference, init_model, show_result

CONFIG = "labrot::rotated_retinanet/rotated-retinanet_r18_fpn_shapes_le90.py"
ORIENTED_RCNN = "labrot::oriented_rcnn/oriented-rcnn_r18_fpn_shapes_le90.py"


def test_codebase_is_declared():
    codebase = get_codebase("labrot")
    assert codebase.apis == "labrot.apis"
    assert any(p.name == "metafile.yml" for p in codebase.metafiles())


@pytest.mark.parametrize("config", [CONFIG, ORIENTED_RCNN])
def test_inference_on_arrays_and_files(tmp_path, config):
    model = init_model(config)
    assert not model.training
    image = np.random.default_rng(0).integers(0, 255, (96, 80, 3), dtype=np.uint8)
    result = inference(model, image)
    boxes = result.pred_instances.bboxes
    assert boxes.ndim == 2 and boxes.shape[1] == 5
    path = tmp_path / "image.png"
    Image.fromarray(image).save(path)
    results = inference(model, [str(path), image])
    assert len(results) == 2
    torch.testing.assert_close(results[0].pred_instances.scores, results[1].pred_instances.scores)


def test_format_and_show_draw_oriented_boxes(tmp_path):
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    result = BaseDataElement(metainfo=dict(classes=("a", "b")))
    result.pred_instances = InstanceData(
        bboxes=torch.tensor([[32.0, 32.0, 40.0, 10.0, np.pi / 4], [10.0, 10.0, 4.0, 4.0, 0.0]]),
        scores=torch.tensor([0.9, 0.1]),
        labels=torch.tensor([1, 0]),
    )
    text = format_result(result)
    assert text.splitlines() == ["b            0.900  32.0 32.0 40.0 10.0 45.0deg"]
    drawing = show_result(image, result, out_file=tmp_path / "out.png")
    assert (tmp_path / "out.png").is_file()
    # the box is drawn turned: the middle of a long side (35.5, 28.5) is on the outline,
    # the corners of the axis-aligned box around it (14.3 or 49.7 on each axis) are not
    assert drawing[27:30, 34:37].any()
    assert not drawing[48:51, 48:51].any() and not drawing[13:16, 48:51].any()
    assert not drawing[8:12, 8:12].any()  # below score_thr


def test_lab_infer_draws_oriented_boxes(tmp_path, capsys):
    from labcore.cli.main import main

    model = init_model(CONFIG)
    checkpoint = tmp_path / "model.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {}}, checkpoint)
    image = tmp_path / "image.png"
    Image.fromarray(np.full((64, 64, 3), 128, dtype=np.uint8)).save(image)
    out = tmp_path / "drawn.png"
    args = ["infer", CONFIG, str(checkpoint), str(image), "--out-file", str(out)]
    # the untrained head scores every anchor near its prior (0.01): keep them all
    keep_all = ["--cfg-options", "model.bbox_head.test_cfg.score_thr=0.0", "--score-thr", "0"]
    assert main([*args, *keep_all]) == 0
    assert out.is_file()
    printed = capsys.readouterr().out
    assert "deg" in printed  # one line per oriented detection: cx cy w h angle
