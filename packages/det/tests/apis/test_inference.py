import numpy as np
import pytest
import torch

from labcore.cli.main import main as lab_main
from labcore.errors import CheckpointError
from labdet.apis import format_result, inference, init_model, show_result

CONFIG = "labdet::mask_rcnn/mask-rcnn_r18_fpn_shapes.py"


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    model = init_model(CONFIG, cfg_options={"model.roi_head.test_cfg.score_thr": 0.0})
    path = tmp_path / "model.pth"
    torch.save(
        {"state_dict": model.state_dict(), "meta": {"dataset_meta": {"classes": ["a"] * 8}}}, path
    )
    return path


def _image(shapes_det):
    return next((shapes_det / "val").glob("*.jpg"))


def test_inference_on_file_and_array_agree(shapes_det, checkpoint):
    options = {"model.roi_head.test_cfg.score_thr": 0.0}
    model = init_model(CONFIG, checkpoint, cfg_options=options)
    assert model.dataset_meta["classes"][0] == "a" and not model.training
    image_file = _image(shapes_det)
    from_file = inference(model, image_file)
    from torchvision.io import decode_image

    array = decode_image(str(image_file)).permute(1, 2, 0).numpy()
    from_array, again = inference(model, [array, array])
    pred = from_file.pred_instances
    assert len(pred.bboxes) > 0
    assert pred.masks.shape[-2:] == array.shape[:2]
    torch.testing.assert_close(from_array.pred_instances.bboxes, pred.bboxes)
    torch.testing.assert_close(again.pred_instances.scores, pred.scores)
    assert "a " in format_result(from_file, classes=model.dataset_meta["classes"], score_thr=0.0)


def test_show_result_draws_and_saves(shapes_det, checkpoint, tmp_path):
    model = init_model(CONFIG, checkpoint, cfg_options={"model.roi_head.test_cfg.score_thr": 0.0})
    image_file = _image(shapes_det)
    result = inference(model, image_file)
    drawing = show_result(image_file, result, score_thr=0.0, out_file=tmp_path / "out.png")
    from torchvision.io import decode_image

    original = decode_image(str(image_file)).permute(1, 2, 0).numpy()
    assert drawing.shape == original.shape and not np.array_equal(drawing, original)
    assert (tmp_path / "out.png").stat().st_size > 0


def test_lab_infer_dispatches_to_labdet(shapes_det, checkpoint, tmp_path, capsys):
    out = tmp_path / "drawn.jpg"
    argv = ["infer", CONFIG, str(checkpoint), str(_image(shapes_det)), "--out-file", str(out)]
    options = ["--cfg-options", "model.roi_head.test_cfg.score_thr=0.0", "--score-thr", "0.0"]
    assert lab_main(argv + options) == 0
    assert out.is_file()
    assert lab_main([*argv, "--topk", "3"]) == 2  # a classification option
    assert "does not take the display option(s) topk" in capsys.readouterr().err


def test_checkpoint_of_another_model_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"state_dict": {"head.fc.weight": torch.zeros(2, 2)}}, path)
    with pytest.raises(CheckpointError, match="head.fc.weight"):
        init_model(CONFIG, path)
