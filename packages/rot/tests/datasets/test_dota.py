"""The DOTA-format data set: reading, bad lines, and the synthetic rotated shapes set."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from labcore.datasets.synthetic import SHAPE_CLASSES, ensure_shapes
from labcore.datasets.synthetic.geometry import min_area_rectangle
from labrot.datasets import DOTA_V1_CLASSES, DOTADataset, DOTAFormatError
from labrot.structures import rbox_to_poly


def write_dota(root, labels: dict[str, str], size=(64, 48)):
    (root / "images").mkdir(parents=True)
    (root / "labelTxt").mkdir()
    for stem, text in labels.items():
        Image.new("RGB", size).save(root / "images" / f"{stem}.png")
        (root / "labelTxt" / f"{stem}.txt").write_text(text)


def test_reads_dota_files(tmp_path):
    write_dota(
        tmp_path,
        {
            "P0001": "imagesource:GoogleEarth\ngsd:0.15\n"
            "10 10 30 10 30 20 10 20 plane 0\n"
            "40 5 50 15 40 25 30 15 small-vehicle 1\n",
            "P0002": "",
        },
    )
    dataset = DOTADataset(data_root=str(tmp_path), angle_version="le90")
    assert dataset.metainfo["classes"] == DOTA_V1_CLASSES and len(DOTA_V1_CLASSES) == 15
    assert len(dataset) == 2
    item = dataset.get_data_info(0)
    assert (item["img_id"], item["height"], item["width"]) == ("P0001", 48, 64)
    plane, vehicle = item["instances"]
    assert plane["bbox"] == pytest.approx([20, 15, 20, 10, 0], abs=1e-5)
    assert (plane["bbox_label"], plane["difficult"]) == (0, 0)
    assert (vehicle["bbox_label"], vehicle["difficult"]) == (4, 1)
    # a square diamond: side 10 sqrt(2), turned by 45 degrees
    assert vehicle["bbox"][:4] == pytest.approx([40, 15, 10 * math.sqrt(2), 10 * math.sqrt(2)])
    assert abs(abs(vehicle["bbox"][4]) - math.pi / 4) < 1e-5
    assert dataset.get_data_info(1)["instances"] == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("10 10 30 10 30 20 plane 0", "has 8 fields"),
        ("10 10 30 10 30 20 10 2O plane 0", "does not parse"),
        ("10 10 30 10 30 20 10 20 plane x", "does not parse"),
        ("10 10 30 10 30 20 10 20 plnae 0", "unknown class 'plnae'.*Did you mean 'plane'"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    write_dota(tmp_path, {"P0001": f"10 10 30 10 30 20 10 20 plane 0\n{line}\n"})
    with pytest.raises(DOTAFormatError, match=message) as info:
        DOTADataset(data_root=str(tmp_path))
    assert "P0001.txt:2" in str(info.value)


def test_degenerate_polygons_are_skipped_and_counted(tmp_path):
    write_dota(
        tmp_path,
        {
            "P0001": "10 10 30 10 30 20 10 20 plane 0\n5 5 9 5 9 5 5 5 ship 0\n",
            "P0002": "1 1 1 1 1 1 1 1 ship 0\n",
        },
    )
    with pytest.warns(UserWarning, match=r"skipped 2 degenerate polygons.*P0001.txt:2"):
        dataset = DOTADataset(data_root=str(tmp_path))
    assert [len(dataset.get_data_info(i)["instances"]) for i in range(2)] == [1, 0]


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(Exception, match="data_prefix.img"):
        DOTADataset(data_root=str(tmp_path / "nowhere"))


def test_min_area_rectangle_of_a_turned_rectangle():
    box = torch.tensor([[20.0, 30.0, 16.0, 6.0, 0.4]], dtype=torch.float64)
    corners = rbox_to_poly(box).reshape(4, 2).numpy()
    inside = corners.mean(axis=0) + (corners - corners.mean(axis=0)) * 0.5
    rect = min_area_rectangle(np.concatenate([corners, inside]))
    distance = np.linalg.norm(rect[:, None] - corners[None], axis=-1)
    assert (distance.min(axis=1) < 1e-9).all()


@pytest.fixture(scope="module")
def rot_shapes(tmp_path_factory):
    return ensure_shapes(
        "rot", tmp_path_factory.mktemp("data"), num_train=24, num_val=4, image_size=96
    )


def test_synthetic_rotated_shapes_in_dota_format(rot_shapes):
    dataset = DOTADataset(
        data_root=str(rot_shapes),
        data_prefix=dict(img="train/images/", ann="train/labelTxt/"),
        angle_version="le135",
    )
    assert dataset.metainfo["classes"] == SHAPE_CLASSES
    assert len(dataset) == 24
    instances = [i for k in range(len(dataset)) for i in dataset.get_data_info(k)["instances"]]
    assert len(instances) >= 24
    boxes = torch.tensor([i["bbox"] for i in instances])
    assert ((boxes[:, 4] >= -math.pi / 4) & (boxes[:, 4] < 3 * math.pi / 4)).all()
    assert (boxes[:, 2] >= boxes[:, 3]).all()
    assert ((boxes[:, :2] >= 0) & (boxes[:, :2] <= 96)).all()
    # shapes that are mostly covered are marked difficult; most are not
    difficult = [i["difficult"] for i in instances]
    assert 0 < sum(difficult) < len(difficult) / 2 or sum(difficult) == 0


def test_synthetic_rotated_box_holds_the_unoccluded_shape(rot_shapes):
    """A shape that nothing covers lies inside its box, which touches it on all sides."""
    from labcore.datasets.synthetic.generate import image_rng
    from labcore.datasets.synthetic.scene import render_scene

    rng = image_rng(seed=0, version=1, task="rot", split="train", index=0)
    scene = render_scene(
        rng, image_size=96, num_shapes=(2, 6), size_range=(0.15, 0.5), min_visible=0.3
    )
    lines = (rot_shapes / "train" / "labelTxt" / "000000.txt").read_text().splitlines()
    assert len(lines) == len(scene.instances)
    for instance, line in zip(scene.instances, lines):
        corners = np.array([float(v) for v in line.split()[:8]]).reshape(4, 2)
        assert line.split()[8] == SHAPE_CLASSES[instance.label]
        if instance.occluded:
            continue
        u = corners[1] - corners[0]
        v = corners[3] - corners[0]
        rel = instance.polygon - corners[0]
        a, b = rel @ u / (u @ u), rel @ v / (v @ v)
        assert a.min() > -0.01 and a.max() < 1.01 and b.min() > -0.01 and b.max() < 1.01
        assert a.min() < 0.01 and a.max() > 0.99 and b.min() < 0.01 and b.max() > 0.99
