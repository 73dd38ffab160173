"""``lab data split-dota`` and merging patch detections, against references written here:
the window grid, shapely polygon IoF, translated polygons, pixels and padding."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from shapely.geometry import Polygon, box

from labcore.cli.main import main
from labcore.datasets.synthetic import SHAPE_CLASSES, ensure_shapes
from labcore.errors import LabError
from labcore.ops import box_iou_rotated
from labrot.datasets import DOTA_V1_CLASSES, DOTADataset, DOTAFormatError
from labrot.datasets.dota_split import PRESETS, SplitSettings, sliding_windows, split_dota
from labrot.evaluation import DOTAMetric
from labrot.models.postprocess import merge_patch_detections
from labrot.structures import PatchName

SIZE, GAP = 128, 32
OBJECTS = [
    # (polygon, class, difficult)
    ([10, 10, 40, 10, 40, 30, 10, 30], "plane", 0),  # in the first windows only
    ([98, 20, 138, 20, 138, 40, 98, 40], "ship", 0),  # across x = 128: IoF 0.75 left of it
    ([150, 100, 190, 120, 180, 140, 140, 120], "harbor", 1),  # turned, difficult
    ([200, 150, 290, 150, 290, 240, 200, 240], "storage-tank", 0),  # large, at the corner
    ([60, 200, 61.5, 200, 61.5, 201.5, 60, 201.5], "small-vehicle", 0),  # tiny
    ([5, 5, 9, 5, 9, 5, 5, 5], "bridge", 0),  # degenerate: skipped with a warning
]


def write_source(root, width=300, height=250, objects=OBJECTS):
    (root / "images").mkdir(parents=True)
    (root / "labelTxt").mkdir()
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(root / "images" / "P0001.png")
    lines = "".join(f"{' '.join(map(str, p))} {c} {d}\n" for p, c, d in objects)
    (root / "labelTxt" / "P0001.txt").write_text("imagesource:GoogleEarth\ngsd:0.1\n" + lines)
    return pixels


def reference_starts(length, size, gap):
    """Starts every size - gap px while the window stays short of the end, then one flush."""
    if length <= size:
        return [0]
    starts, x = [], 0
    while x + size < length:
        starts.append(x)
        x += size - gap
    return starts + [length - size]


def reference_windows(width, height, size, gap, img_rate_thr=0.6):
    windows = [
        (x, y, x + size, y + size)
        for x in reference_starts(width, size, gap)
        for y in reference_starts(height, size, gap)
    ]
    inside = [
        (min(x2, width) - x1) * (min(y2, height) - y1) / size**2 for x1, y1, x2, y2 in windows
    ]
    kept = [w for w, r in zip(windows, inside) if r > img_rate_thr]
    return kept or [w for w, r in zip(windows, inside) if r > max(inside) - 0.01]


def read_patches(out):
    dataset = DOTADataset(
        data_root=str(out),
        data_prefix=dict(img="images/", ann="annfiles/"),
        min_polygon_area=0.0,  # the tiny object at rate 0.5
        test_mode=True,
    )
    return {d["img_id"]: d for d in (dataset.get_data_info(i) for i in range(len(dataset)))}


@pytest.mark.parametrize(
    ("width", "height", "size", "gap"),
    [(300, 250, 128, 32), (224, 128, 128, 32), (100, 60, 128, 32), (1000, 300, 256, 64)],
)
def test_window_grid(width, height, size, gap):
    got = sliding_windows(width, height, size, gap, 0.6)
    assert [tuple(w) for w in got.tolist()] == reference_windows(width, height, size, gap)


def test_split_patches_objects_pixels_and_names(tmp_path):
    pixels = write_source(tmp_path / "src")
    settings = SplitSettings(size=SIZE, gap=GAP, rates=(1.0, 0.5), padding_value=(1, 2, 3))
    with pytest.warns(UserWarning, match="skipped 1 degenerate polygons.*P0001.txt:8"):
        summary = split_dota(tmp_path / "src", tmp_path / "out", settings)
    patches = read_patches(tmp_path / "out")
    scaled = {
        1.0: pixels,
        0.5: np.asarray(Image.fromarray(pixels).resize((150, 125), Image.BILINEAR)),
    }
    expected_names, objects = set(), 0
    for rate, image in scaled.items():
        height, width = image.shape[:2]
        windows = reference_windows(width, height, SIZE, GAP)
        assert len(windows) == {1.0: 9, 0.5: 2}[rate]
        for x1, y1, x2, y2 in windows:
            name = f"P0001__{rate}__{x1}___{y1}"
            expected_names.add(name)
            patch = np.asarray(Image.open(tmp_path / "out" / "images" / f"{name}.png"))
            assert patch.shape == (SIZE, SIZE, 3)
            inside = image[y1:y2, x1:x2]
            np.testing.assert_array_equal(patch[: inside.shape[0], : inside.shape[1]], inside)
            padding = np.ones_like(patch, bool)
            padding[: inside.shape[0], : inside.shape[1]] = False
            assert (patch[padding] == np.tile([1, 2, 3], padding.sum() // 3)).all()
            # objects with shapely IoF >= 0.7, moved into the patch, difficult 2 when cut
            want = []
            for polygon, name_, difficult in OBJECTS[:-1]:
                shape = Polygon(np.reshape(polygon, (4, 2)) * rate)
                iof = shape.intersection(box(x1, y1, x2, y2)).area / shape.area
                if iof >= 0.7:
                    moved = np.array(polygon) * rate - [x1, y1] * 4
                    want.append((moved, name_, 2 if iof < 1 - 1e-9 else difficult))
            got = patches[name]["instances"]
            assert len(got) == len(want), name
            for instance, (moved, class_name, difficult) in zip(got, want):
                np.testing.assert_allclose(instance["polygon"], moved, atol=1e-6)
                assert DOTA_V1_CLASSES[instance["bbox_label"]] == class_name
                assert instance["difficult"] == difficult
            objects += len(want)
    assert set(patches) == expected_names
    assert (summary.images, summary.patches, summary.objects) == (1, 11, objects)
    assert summary.truncated > 0 and summary.empty_patches > 0
    # the ship crosses x = 128: cut in the first window (difficult 2), whole in the next
    ship = {
        n: i["difficult"]
        for n, p in patches.items()
        for i in p["instances"]
        if i["bbox_label"] == 6
    }
    assert (ship["P0001__1.0__0___0"], ship["P0001__1.0__96___0"]) == (2, 0)


def test_patch_ground_truth_merges_back_to_the_full_image(tmp_path):
    write_source(tmp_path / "src")
    settings = SplitSettings(size=SIZE, gap=GAP, rates=(1.0, 0.5, 1.5))
    with pytest.warns(UserWarning, match="degenerate"):
        split_dota(tmp_path / "src", tmp_path / "out", settings)
        full = DOTADataset(data_root=str(tmp_path / "src"), test_mode=True).get_data_info(0)
    detections = []
    for name, patch in read_patches(tmp_path / "out").items():
        boxes = torch.tensor([i["bbox"] for i in patch["instances"]]).reshape(-1, 5)
        labels = torch.tensor([i["bbox_label"] for i in patch["instances"]], dtype=torch.int64)
        detections.append((name, boxes, torch.ones(len(boxes)), labels))
    assert sum(len(d[1]) for d in detections) > 2 * len(full["instances"])  # duplicates
    merged = merge_patch_detections(detections)
    assert set(merged) == {"P0001"}
    boxes, scores, labels = merged["P0001"]
    truth = torch.tensor([i["bbox"] for i in full["instances"]])
    truth_labels = [i["bbox_label"] for i in full["instances"]]
    assert sorted(labels.tolist()) == sorted(truth_labels)  # each object once
    iou = box_iou_rotated(boxes.double(), truth.double())
    match = iou.argmax(dim=1)
    assert iou.max(dim=1).values.min() > 0.999
    assert sorted(match.tolist()) == list(range(len(truth)))
    np.testing.assert_allclose(boxes[:, :2], truth[match, :2], atol=1e-3)
    np.testing.assert_allclose(
        boxes[:, 2:4].sort(dim=1).values, truth[match, 2:4].sort(dim=1).values, atol=1e-3
    )


def test_merge_maps_offset_and_rate_and_keeps_classes_apart():
    one = torch.tensor([[10.0, 20.0, 8.0, 4.0, 0.3]])
    merged = merge_patch_detections(
        [
            ("A__0.5__100___50", one, torch.tensor([0.9]), torch.tensor([0])),
            (
                "A__1.0__200___100",
                one + torch.tensor([[10.0, 20.0, 8.0, 4.0, 0.0]]),  # the same box
                torch.tensor([0.8]),
                torch.tensor([0]),
            ),
            (
                "A__1.0__0___0",
                torch.tensor([[220.0, 140.0, 16.0, 8.0, 0.3]]),
                torch.tensor([0.7]),
                torch.tensor([3]),
            ),
            ("B__1.0__0___0", one, torch.tensor([0.5]), torch.tensor([1])),
        ]
    )
    boxes, scores, labels = merged["A"]
    np.testing.assert_allclose(boxes[0], [220.0, 140.0, 16.0, 8.0, 0.3], atol=1e-5)
    assert scores.tolist() == pytest.approx([0.9, 0.7]) and labels.tolist() == [0, 3]
    torch.testing.assert_close(merged["B"][0], one)
    with pytest.raises(LabError, match="not the name of an image patch"):
        merge_patch_detections([("P0001", one, torch.tensor([1.0]), torch.tensor([0]))])


def test_patch_names_read_back():
    name = PatchName("P0001__x", 1.5, 824, 0)
    assert str(name) == "P0001__x__1.5__824___0"
    assert PatchName.parse(str(name)) == name


def test_test_split_without_labels(tmp_path):
    write_source(tmp_path / "src")
    (tmp_path / "src" / "labelTxt" / "P0001.txt").unlink()
    (tmp_path / "src" / "labelTxt").rmdir()
    with pytest.raises(LabError, match="no label folder.*--no-labels"):
        split_dota(tmp_path / "src", tmp_path / "a", SplitSettings(size=SIZE, gap=GAP))
    settings = SplitSettings(size=SIZE, gap=GAP, with_labels=False)
    summary = split_dota(tmp_path / "src", tmp_path / "b", settings)
    assert (summary.patches, summary.objects) == (9, 0)
    assert all(p.read_text() == "" for p in (tmp_path / "b" / "annfiles").iterdir())
    assert not PRESETS["ss_test"].with_labels and PRESETS["ms_trainval"].rates == (0.5, 1.0, 1.5)


def test_bad_label_line_names_file_and_line(tmp_path):
    write_source(tmp_path / "src", objects=[([1, 1, 9, 1, 9, 9, 1, 9], "plane", 0)])
    with (tmp_path / "src" / "labelTxt" / "P0001.txt").open("a") as f:
        f.write("1 1 9 1 9 9 plane 0\n")
    with pytest.raises(DOTAFormatError, match=r"P0001.txt:4.*has 8 fields"):
        split_dota(tmp_path / "src", tmp_path / "out", SplitSettings(size=SIZE, gap=GAP))
    with pytest.raises(LabError, match="gap"):
        SplitSettings(size=64, gap=64)


def test_lab_data_split_dota_on_the_rotated_shapes_set(tmp_path, capsys):
    root = ensure_shapes("rot", tmp_path / "shapes", num_train=3, num_val=1, image_size=96)
    argv = ["data", "split-dota", "--src", str(root / "train"), "--out", str(tmp_path / "out"),
            "--size", "64", "--gap", "16", "--workers", "1", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert "Cut 3 images into 12 patches of 64 px" in capsys.readouterr().out
    patches = DOTADataset(
        data_root=str(tmp_path / "out"), data_prefix=dict(img="images/", ann="annfiles/")
    )
    assert patches.metainfo["classes"] == SHAPE_CLASSES and len(patches) == 12
    assert main(argv) == 2  # the output folder is not empty any more
    assert "is not empty" in capsys.readouterr().err


def test_metric_merges_patches_into_a_task1_submission(tmp_path):
    metric = DOTAMetric(merge_patches=True, outfile_prefix=str(tmp_path / "Task1"))
    metric.dataset_meta = dict(classes=("plane", "ship"))
    one = torch.tensor([[10.0, 20.0, 8.0, 4.0, 0.0]])
    for name, offset, score in (("P0001__1.0__0___0", 0.0, 0.9), ("P0001__1.0__8___0", -8.0, 0.8)):
        pred = dict(bboxes=one + torch.tensor([[offset, 0, 0, 0, 0]]), scores=torch.tensor([score]),
                    labels=torch.tensor([1]))  # fmt: skip
        metric.process({}, [dict(img_id=name, pred_instances=pred)])
    assert metric.evaluate(2) == {}
    lines = (tmp_path / "Task1" / "Task1_ship.txt").read_text().splitlines()
    assert lines == ["P0001 0.9 6.00 18.00 14.00 18.00 14.00 22.00 6.00 22.00"]
    assert (tmp_path / "Task1" / "Task1_plane.txt").read_text() == ""
    with zipfile.ZipFile(tmp_path / "Task1" / "Task1.zip") as archive:
        assert sorted(archive.namelist()) == ["Task1_plane.txt", "Task1_ship.txt"]
    with pytest.raises(LabError, match="outfile_prefix"):
        DOTAMetric(merge_patches=True)


def test_lab_data_merge_dota_merges_patch_task1_files_as_the_metric_does(tmp_path, capsys):
    generator = torch.Generator().manual_seed(0)
    samples = []
    for name in (
        "P0001__1.0__0___0",
        "P0001__1.0__96___0",
        "P0001__0.5__0___0",
        "P0002__1.0__0___0",
    ):
        boxes = torch.rand(6, 5, generator=generator, dtype=torch.float64) * torch.tensor(
            [128, 128, 30, 20, 1.5]
        ) + torch.tensor([0, 0, 10, 5, -0.75])
        pred = dict(
            bboxes=boxes, scores=torch.rand(6, generator=generator), labels=torch.arange(6) % 2
        )
        samples.append(dict(img_id=name, pred_instances=pred))
    for merge, folder in ((False, "patches"), (True, "merged")):
        metric = DOTAMetric(
            format_only=True, merge_patches=merge, outfile_prefix=str(tmp_path / folder)
        )
        metric.dataset_meta = dict(classes=("plane", "ship"))
        metric.process({}, samples)
        assert metric.evaluate(len(samples)) == {}
    argv = [
        "data",
        "merge-dota",
        "--src",
        str(tmp_path / "patches"),
        "--out",
        str(tmp_path / "cli"),
    ]
    assert main(argv) == 0
    assert "Merged 24 detections of 4 patches into" in capsys.readouterr().out
    for name in ("Task1_plane.txt", "Task1_ship.txt"):
        want = [line.split() for line in (tmp_path / "merged" / name).read_text().splitlines()]
        got = [line.split() for line in (tmp_path / "cli" / name).read_text().splitlines()]
        assert [w[:2] for w in want] == [g[:2] for g in got] and want
        # the same corners, perhaps starting at another one (boxes read back in le90)
        corners_got = np.array([g[2:] for g in got], float).reshape(-1, 4, 1, 2)
        corners_want = np.array([w[2:] for w in want], float).reshape(-1, 1, 4, 2)
        distance = np.linalg.norm(corners_got - corners_want, axis=-1).min(axis=-1)
        assert distance.max() < 0.03
    assert (tmp_path / "cli" / "cli.zip").is_file()
