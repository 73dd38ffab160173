"""The synthetic shapes data sets, read back with the libraries their formats belong to
(pycocotools for COCO JSON, Pillow for images and label maps)."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO

from labcore.datasets.synthetic import KEYPOINT_NAMES, SHAPE_CLASSES
from labcore.datasets.synthetic.formats import IGNORE_INDEX, coco_annotation
from labcore.datasets.synthetic.generate import VERSIONS, image_rng
from labcore.datasets.synthetic.scene import render_scene

# pycocotools' mask decoding predates numpy 2's copy keyword and says so on every call.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _load_coco(path) -> COCO:
    return COCO(str(path))


def test_classification_lists_match_the_files_on_disk(shapes_cls):
    classes = (shapes_cls / "classes.txt").read_text().splitlines()
    assert classes == list(SHAPE_CLASSES)
    for split, expected in (("train", 200), ("val", 40)):
        lines = (shapes_cls / "meta" / f"{split}.txt").read_text().splitlines()
        entries = [line.split(" ") for line in lines]
        assert len(entries) == expected
        on_disk = {
            p.relative_to(shapes_cls / split).as_posix()
            for p in (shapes_cls / split).rglob("*.jpg")
        }
        assert {path for path, _ in entries} == on_disk
        for path, label in entries:
            assert classes[int(label)] == path.split("/")[0]
        counts = collections.Counter(int(label) for _, label in entries)
        assert set(counts) == set(range(len(classes)))
        assert max(counts.values()) - min(counts.values()) <= 1  # balanced classes
    image = Image.open(next((shapes_cls / "train").rglob("*.jpg")))
    assert (image.mode, image.size) == ("RGB", (32, 32))


@pytest.mark.parametrize("split", ["train", "val"])
def test_detection_annotations_agree_with_their_masks(shapes_det, split):
    coco = _load_coco(shapes_det / "annotations" / f"instances_{split}.json")
    assert sorted(coco.getCatIds()) == list(range(1, len(SHAPE_CLASSES) + 1))
    assert [c["name"] for c in coco.loadCats(sorted(coco.getCatIds()))] == list(SHAPE_CLASSES)
    kinds = collections.Counter()
    for image_id in coco.getImgIds():
        info = coco.loadImgs(image_id)[0]
        assert (shapes_det / split / info["file_name"]).is_file()
        union = np.zeros((info["height"], info["width"]), dtype=np.int32)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id)):
            kinds["polygon" if isinstance(ann["segmentation"], list) else "rle"] += 1
            mask = coco.annToMask(ann).astype(bool)
            union += mask
            ys, xs = np.nonzero(mask)
            visible_box = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
            assert ann["bbox"] == [float(v) for v in visible_box]
            assert ann["area"] == int(mask.sum())
            x, y, w, h = ann["bbox"]
            assert x >= 0 and y >= 0 and x + w <= info["width"] and y + h <= info["height"]
            assert ann["iscrowd"] == 0
        assert union.max() <= 1  # visible parts never overlap
    assert kinds["polygon"] > 0 and kinds["rle"] > 0  # unoccluded and occluded shapes


def test_detection_shapes_cover_every_class_and_several_sizes(shapes_det):
    coco = _load_coco(shapes_det / "annotations" / "instances_train.json")
    anns = coco.loadAnns(coco.getAnnIds())
    counts = collections.Counter(ann["category_id"] for ann in anns)
    assert set(counts) == set(range(1, len(SHAPE_CLASSES) + 1))
    assert max(counts.values()) < 3 * min(counts.values())
    per_image = collections.Counter(ann["image_id"] for ann in anns)
    assert min(per_image.values()) >= 1 and max(per_image.values()) >= 4
    areas = np.array([ann["area"] for ann in anns])
    assert (areas < 32**2).any() and (areas >= 32**2).any()  # COCO's small and medium


def test_painted_pixels_match_the_annotation_masks(shapes_det):
    coco = _load_coco(shapes_det / "annotations" / "instances_val.json")
    for image_id in coco.getImgIds()[:6]:
        info = coco.loadImgs(image_id)[0]
        image = np.asarray(Image.open(shapes_det / "val" / info["file_name"]), dtype=np.float64)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id)):
            mask = coco.annToMask(ann).astype(bool)
            inside = image[mask]
            ring = _dilate(mask, 2) & ~_dilate(mask, 1)
            ring &= ~_any_other_shape(coco, image_id, ann["id"])
            if ring.sum() < 10:
                continue
            # A shape is a patch of one contrasting colour: the inside differs from
            # the pixels just around it.
            contrast = np.linalg.norm(np.median(inside, axis=0) - np.median(image[ring], axis=0))
            assert contrast > 40


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    grown = mask.copy()
    for _ in range(steps):
        padded = np.pad(grown, 1)
        grown = grown | padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:]
    return grown


def _any_other_shape(coco: COCO, image_id: int, ann_id: int) -> np.ndarray:
    info = coco.loadImgs(image_id)[0]
    other = np.zeros((info["height"], info["width"]), dtype=bool)
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id)):
        if ann["id"] != ann_id:
            other |= _dilate(coco.annToMask(ann).astype(bool), 1)
    return other


def test_segmentation_label_maps_are_valid(shapes_seg):
    classes = (shapes_seg / "classes.txt").read_text().splitlines()
    assert classes == ["background", *SHAPE_CLASSES]
    seen = set()
    for split, expected in (("train", 32), ("val", 8)):
        labels = sorted((shapes_seg / "annotations" / split).glob("*.png"))
        images = sorted((shapes_seg / "images" / split).glob("*.jpg"))
        assert [p.stem for p in labels] == [p.stem for p in images]
        assert len(labels) == expected
        for path in labels:
            label_map = Image.open(path)
            assert label_map.mode == "L" and label_map.size == (128, 128)
            values = set(np.unique(np.asarray(label_map)).tolist())
            assert values <= set(range(len(classes))) | {IGNORE_INDEX}
            seen |= values
    assert seen == set(range(len(classes))) | {IGNORE_INDEX}


def test_coco_masks_of_a_scene_agree_with_its_label_map(shapes_seg):
    """The COCO annotation of each shape of a segmentation scene, decoded by
    pycocotools, covers exactly the pixels of that shape in the written PNG."""
    for index in range(3):
        rng = image_rng(seed=0, version=1, task="seg", split="val", index=index)
        spec = VERSIONS[1]
        scene = render_scene(
            rng, image_size=128, num_shapes=spec.seg_shapes,
            size_range=spec.scene_size_range, min_visible=spec.min_visible,
        )  # fmt: skip
        written = np.asarray(Image.open(shapes_seg / "annotations" / "val" / f"{index:06d}.png"))
        covered = np.zeros_like(written, dtype=bool)
        for number, instance in enumerate(scene.instances):
            ann = coco_annotation(
                instance, annotation_id=number + 1, image_id=1, with_keypoints=False
            )
            if isinstance(ann["segmentation"], list):
                rle = coco_mask.merge(coco_mask.frPyObjects(ann["segmentation"], 128, 128))
            else:
                rle = dict(ann["segmentation"], counts=ann["segmentation"]["counts"].encode())
            mask = coco_mask.decode(rle).astype(bool)
            assert set(np.unique(written[mask]).tolist()) <= {instance.label + 1, IGNORE_INDEX}
            assert (written[mask] == instance.label + 1).mean() > 0.3
            covered |= mask
        assert (written[~covered] == 0).all()


def test_pose_keypoints_sit_on_the_shapes(shapes_pose):
    with open(shapes_pose / "annotations" / "keypoints_train.json") as f:
        data = json.load(f)
    for category in data["categories"]:
        assert category["keypoints"] == list(KEYPOINT_NAMES)
        assert all(1 <= i <= len(KEYPOINT_NAMES) for link in category["skeleton"] for i in link)
    coco = _load_coco(shapes_pose / "annotations" / "keypoints_train.json")
    detection = _load_coco(shapes_pose / "annotations" / "instances_train.json")
    assert detection.getAnnIds() == coco.getAnnIds()
    visibilities = collections.Counter()
    for ann in coco.loadAnns(coco.getAnnIds()):
        points = np.array(ann["keypoints"], dtype=np.float64).reshape(len(KEYPOINT_NAMES), 3)
        assert ann["num_keypoints"] == len(KEYPOINT_NAMES)
        visibilities.update(points[:, 2].astype(int).tolist())
        if isinstance(ann["segmentation"], list):  # unoccluded: extremes touch the box
            x, y, w, h = ann["bbox"]
            center, top, right, bottom, left = points[:, :2]
            # Pixels count when their centre is inside, so a sharp tip can reach a
            # little beyond the visible box.
            assert abs(top[1] - y) <= 1.5 and abs(bottom[1] - (y + h)) <= 1.5
            assert abs(left[0] - x) <= 1.5 and abs(right[0] - (x + w)) <= 1.5
            assert x <= center[0] <= x + w and y <= center[1] <= y + h
    assert set(visibilities) <= {1, 2} and visibilities[2] > visibilities[1] > 0
