"""The codebase API: init_model, inference, format_result, show_result, via labcore."""

from __future__ import annotations

import numpy as np
from PIL import Image

from labcore.codebase import get_codebase
from labpose.apis import format_result, inference, init_model, show_result

CONFIG = "labpose::simplebaseline/simplebaseline_r18_shapes.py"


def test_inference_draws_the_skeleton(shapes_pose, tmp_path, one_thread):
    model = init_model(CONFIG)
    image = shapes_pose / "val" / sorted(p.name for p in (shapes_pose / "val").iterdir())[0]
    result = inference(model, str(image))
    assert tuple(result.pred_instances.keypoints.shape) == (1, 5, 2)
    assert result.metainfo["skeleton"]
    lines = format_result(result, score_thr=0.0).splitlines()
    assert len(lines) == 5 and lines[0].split()[1] == "center"
    out = tmp_path / "pose.png"
    drawing = show_result(str(image), result, out_file=out, score_thr=0.0)
    original = np.array(Image.open(image).convert("RGB"))
    assert out.is_file() and drawing.shape == original.shape
    assert (drawing != original).any()  # keypoints and links were drawn
    batch = inference(model, [original, original])
    assert len(batch) == 2


def test_declared_through_the_entry_point():
    codebase = get_codebase("labpose")
    assert codebase.api("inference") is inference
    assert (codebase.config_dir / "simplebaseline" / "metafile.yml").is_file()
