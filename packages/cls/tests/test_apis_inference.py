"""init_model / inference / show_result, checkpoint key reports, and `lab infer`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from labcls.apis import format_result, inference, init_model, show_result, top_classes
from labcore.cli.main import main as lab_main
from labcore.engine.checkpoint import load_state_dict
from labcore.errors import CheckpointError

CONFIG = "labcls::resnet/resnet18_tiny_shapes.py"
CLASSES = ("circle", "square", "triangle", "star", "hexagon", "ellipse", "cross", "diamond")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = init_model(CONFIG)
    path = tmp_path_factory.mktemp("ckpt") / "epoch_1.pth"
    torch.save(
        dict(meta=dict(dataset_meta=dict(classes=CLASSES)), state_dict=model.state_dict()), path
    )
    return path, model.state_dict()


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "shape.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path)
    return path


def test_inference_matches_a_plain_forward(checkpoint, image):
    path, state = checkpoint
    model = init_model(CONFIG, path)
    assert model.dataset_meta["classes"] == CLASSES and not model.training
    result = inference(model, image)
    pixels = torch.from_numpy(np.array(Image.open(image).convert("RGB"))).permute(2, 0, 1)
    x = (pixels.float()[None] - 127.5) / 63.75  # the config's mean and std
    with torch.no_grad():
        expected = model(x, mode="tensor").softmax(dim=1)[0]
    np.testing.assert_allclose(result.pred_score.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert int(result.pred_label) == int(expected.argmax())
    assert result.metainfo["classes"] == CLASSES
    assert [name for name, _ in top_classes(result, topk=3)] == [
        CLASSES[i] for i in expected.topk(3).indices.tolist()
    ]
    assert len(format_result(result, topk=3).splitlines()) == 3
    array = np.asarray(Image.open(image).convert("RGB"))
    from_array, again = inference(model, [array, array])
    np.testing.assert_allclose(
        from_array.pred_score.numpy(), result.pred_score.numpy(), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_array_equal(again.pred_score.numpy(), from_array.pred_score.numpy())


def test_mismatched_keys_are_reported_by_name(checkpoint, caplog):
    _, state = checkpoint
    model = init_model(CONFIG)
    broken = dict(state)
    broken.pop("head.fc.bias")
    broken["head.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"head\.fc\.bias.*head\.extra\.weight"):
        load_state_dict(model, broken)
    missing, unexpected = load_state_dict(model, broken, strict=False)
    assert missing == ["head.fc.bias"] and unexpected == ["head.extra.weight"]
    broken["head.fc.weight"] = torch.zeros(3, 128)
    with pytest.raises(CheckpointError, match=r"head\.fc\.weight: checkpoint \(3, 128\)"):
        load_state_dict(model, broken, strict=False)


def test_show_result_writes_a_drawing(checkpoint, image, tmp_path):
    model = init_model(CONFIG, checkpoint[0])
    result = inference(model, image)
    drawing = show_result(image, result, out_file=tmp_path / "out.png", topk=2)
    assert drawing.shape[0] > 256 and (tmp_path / "out.png").is_file()


def test_lab_infer_prints_top_classes(checkpoint, image, capsys):
    assert lab_main(["infer", CONFIG, str(checkpoint[0]), str(image), "--topk", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(line.split()[0] in CLASSES for line in lines)
    assert lab_main(["infer", CONFIG, str(checkpoint[0]), "missing.jpg"]) == 2
    assert "missing.jpg" in capsys.readouterr().err


def test_lab_infer_refuses_a_checkpoint_that_does_not_fit(checkpoint, image, tmp_path, capsys):
    broken = dict(checkpoint[1])
    broken.pop("head.fc.bias")
    path = tmp_path / "broken.pth"
    torch.save({"state_dict": broken}, path)
    assert lab_main(["infer", CONFIG, str(path), str(image)]) == 2
    assert "missing keys (1): head.fc.bias" in capsys.readouterr().err
