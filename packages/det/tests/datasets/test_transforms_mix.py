"""RTMDet's augmentation: cached mosaic, cached mixup, YOLOX HSV jitter, and the recipe.

The geometry tests paint every box as a solid rectangle of its own colour on a black
image, so where a box's colour ends up is an independent reference for where the
transform put the box.
"""

import colorsys

import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from labcore.errors import ConfigError
from labdet.datasets import CachedMixUp, CachedMosaic, YOLOXHSVRandomAug

PAD = 114


@pytest.fixture(autouse=True)
def _labdet_scope():
    init_default_scope("labdet")


_LEVELS = (20, 50, 80, 110, 140, 170, 200)


def _colour(label: int) -> np.ndarray:
    """A colour per label (up to 146): one channel 240, the other two from _LEVELS, so any
    two differ by 30 in some channel, none is grey, and no blend with black (a resized
    edge) comes near another."""
    rest, bright = divmod(label, 3)
    others = [_LEVELS[rest % 7], _LEVELS[rest // 7]]
    return np.array(others[:bright] + [240] + others[bright:], dtype=np.uint8)


def _sample(first_label: int, h: int, w: int, n: int = 5, seed: int = 0, img_id: int = 0):
    """A black h x w image with ``n`` non-overlapping integer boxes, each painted in the
    colour of its label (labels first_label, first_label + 1, ...)."""
    rng = np.random.RandomState(seed)
    cols, rows = 3, 2
    cell_w, cell_h = w // cols, h // rows
    img = np.zeros((h, w, 3), dtype=np.uint8)
    boxes = []
    for k in range(n):
        cx, cy = (k % cols) * cell_w, (k // cols) * cell_h
        x1, y1 = cx + rng.randint(0, cell_w // 3), cy + rng.randint(0, cell_h // 3)
        x2 = rng.randint(x1 + cell_w // 3, cx + cell_w - 1)  # boxes never touch
        y2 = rng.randint(y1 + cell_h // 3, cy + cell_h - 1)
        img[y1:y2, x1:x2] = _colour(first_label + k)
        boxes.append([x1, y1, x2, y2])
    labels = np.arange(first_label, first_label + n, dtype=np.int64)
    return dict(
        img=img,
        img_id=img_id,
        img_shape=(h, w),
        ori_shape=(h, w),
        gt_bboxes=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        gt_labels=labels,
        gt_ignore_flags=labels % 3 == 0,
    )


def _samples(count, sizes, n=5):
    """``count`` samples cycling through ``sizes`` (h, w), with labels unique across all."""
    return [_sample(n * i, *sizes[i % len(sizes)], n=n, seed=i, img_id=i) for i in range(count)]


def _box_mask(boxes, height, width):
    """The union of integer boxes as a bool ndarray[height, width]."""
    mask = np.zeros((height, width), dtype=bool)
    for x1, y1, x2, y2 in boxes:
        assert float(x1).is_integer() and float(y2).is_integer()
        mask[int(y1) : int(y2), int(x1) : int(x2)] = True
    return mask


def _all_labels(samples):
    return sorted({int(v) for s in samples for v in s["gt_labels"]})


# --- CachedMosaic ------------------------------------------------------------------------


def test_mosaic_boxes_are_exactly_where_their_colours_are_without_resizing():
    # every source fits img_scale at scale 1 (max side 64), so pixels are copied exactly
    sources = _samples(8, [(64, 64), (48, 64), (64, 40)])
    mosaic = CachedMosaic(img_scale=(64, 64), max_cached_images=6)
    torch.manual_seed(0)
    mixed = 0
    for i in range(30):
        out = mosaic(_copy(sources[i % len(sources)]))
        if i < 4:
            continue
        mixed += 1
        img, boxes, labels = out["img"], out["gt_bboxes"], out["gt_labels"]
        assert img.shape == (128, 128, 3) and out["img_shape"] == (128, 128)
        assert len(boxes) == len(labels) == len(out["gt_ignore_flags"])
        np.testing.assert_array_equal(out["gt_ignore_flags"], labels % 3 == 0)
        assert ((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])).all()
        for label in _all_labels(sources):
            coloured = (img == _colour(label)).all(-1)
            # the kept boxes of this label cover exactly the pixels of its colour; a box
            # whose colour was cut off entirely is gone
            np.testing.assert_array_equal(
                _box_mask(boxes[labels == label], 128, 128), coloured, err_msg=f"label {label}"
            )
        background = ~_box_mask(boxes, 128, 128)
        assert np.isin(img[background], [0, PAD]).all()
    assert mixed == 26


def test_mosaic_upscaled_patches_keep_their_colours_inside_the_scaled_boxes():
    # 32 x 32 sources are resized x2 into the 64 x 64 quarters (bilinear: 1-pixel edges)
    sources = _samples(6, [(32, 32)])
    mosaic = CachedMosaic(img_scale=(64, 64), max_cached_images=10, center_ratio_range=(0.6, 1.4))
    torch.manual_seed(1)
    for i in range(12):
        out = mosaic(_copy(sources[i % len(sources)]))
        if i < 4:
            continue
        img, boxes, labels = out["img"], out["gt_bboxes"], out["gt_labels"]
        for box, label in zip(boxes, labels):
            x1, y1, x2, y2 = box.astype(int)
            inner = img[y1 + 2 : max(y1 + 2, y2 - 2), x1 + 2 : max(x1 + 2, x2 - 2)]
            assert (inner == _colour(label)).all(), f"label {label} box {box}"
        for label in _all_labels(sources):
            exact = (img == _colour(label)).all(-1)
            # no pixel of this exact colour lies outside the kept boxes of its label
            assert not (exact & ~_box_mask(boxes[labels == label], 128, 128)).any()


def test_mosaic_combine_places_the_four_patches_around_the_centre():
    sources = _samples(4, [(64, 64)])
    mosaic = CachedMosaic(img_scale=(64, 64))
    out = mosaic.combine(_copy(sources[0]), [_copy(s) for s in sources[1:]], 10, 100)
    # top left: only its right-most 10 columns and bottom 64 rows remain, at x 0..10
    np.testing.assert_array_equal(out["img"][36:100, :10], sources[0]["img"][:, 54:])
    # top right: its left 64 columns at x 10..74, its bottom 64 rows at y 36..100
    np.testing.assert_array_equal(out["img"][36:100, 10:74], sources[1]["img"])
    # bottom left: its right 10 columns, top 28 rows; bottom right: its top-left 64 x 28
    np.testing.assert_array_equal(out["img"][100:, :10], sources[2]["img"][:28, 54:])
    np.testing.assert_array_equal(out["img"][100:, 10:74], sources[3]["img"][:28])
    assert (out["img"][:36] == PAD).all() and (out["img"][:, 74:] == PAD).all()
    first = sources[0]["gt_bboxes"]
    gone = [int(lab) for lab, box in zip(sources[0]["gt_labels"], first) if box[2] <= 54]
    assert gone and not set(gone) & set(out["gt_labels"].tolist())
    # a top-right box keeps its coordinates shifted by (10, 36)
    np.testing.assert_array_equal(
        out["gt_bboxes"][out["gt_labels"] == 5][0], sources[1]["gt_bboxes"][0] + [10, 36, 10, 36]
    )


def test_mosaic_cache_fills_pops_and_passes_samples_through_below_five():
    sources = _samples(10, [(32, 48)])
    fifo = CachedMosaic(img_scale=(32, 32), max_cached_images=5, random_pop=False)
    torch.manual_seed(0)
    for i in range(4):
        results = _copy(sources[i])
        out = fifo(results)
        assert out is results and out["img"].shape == (32, 48, 3)
        np.testing.assert_array_equal(out["img"], sources[i]["img"])
        np.testing.assert_array_equal(out["gt_bboxes"], sources[i]["gt_bboxes"])
        assert len(fifo.results_cache) == i + 1
    assert fifo(_copy(sources[4]))["img"].shape == (64, 64, 3)
    for i in range(5, 10):
        fifo(_copy(sources[i]))
    assert [r["img_id"] for r in fifo.results_cache] == [5, 6, 7, 8, 9]
    # the cache holds the samples as they came in, not as the mosaic left them
    assert all(r["img"].shape == (32, 48, 3) for r in fifo.results_cache)

    randomly = CachedMosaic(img_scale=(32, 32), max_cached_images=5)
    for i in range(10):
        randomly(_copy(sources[i]))
        assert len(randomly.results_cache) == min(i + 1, 5)
    assert [r["img_id"] for r in randomly.results_cache] != [5, 6, 7, 8, 9]

    never = CachedMosaic(img_scale=(32, 32), prob=0.0)
    for i in range(8):
        assert never(_copy(sources[i]))["img"].shape == (32, 48, 3)


def test_mosaic_rejects_masks_and_bad_arguments():
    results = _sample(0, 32, 32)
    results["gt_masks"] = np.zeros((5, 32, 32), dtype=bool)
    with pytest.raises(ConfigError, match=r"does not mix masks; load boxes only"):
        CachedMosaic()(results)
    with pytest.raises(ConfigError, match="max_cached_images"):
        CachedMosaic(max_cached_images=3)
    with pytest.raises(ConfigError, match="img_scale"):
        CachedMosaic(img_scale=(640,))
    assert "max_cached_images=40" in repr(CachedMosaic())


# --- CachedMixUp -------------------------------------------------------------------------


def _retrieved_part(out_img, current_img):
    """2 * out - current: the retrieved image's pixel, to within 1 level (out is the
    truncated 0.5 / 0.5 blend)."""
    return 2 * out_img.astype(int) - current_img.astype(int)


def _centres_in(boxes, height, width, slack=1.0):
    """Pixels whose centre lies in one of the (float) boxes grown by ``slack``."""
    ys, xs = np.mgrid[:height, :width] + 0.5
    inside = np.zeros((height, width), dtype=bool)
    for x1, y1, x2, y2 in boxes:
        inside |= (xs > x1 - slack) & (xs < x2 + slack) & (ys > y1 - slack) & (ys < y2 + slack)
    return inside


def _source_of(label, samples):
    return next(s for s in samples if label in s["gt_labels"])


def test_mixup_without_jitter_blends_the_flipped_image_under_the_flipped_boxes():
    sources = _samples(5, [(64, 64)])
    mixup = CachedMixUp(img_scale=(64, 64), ratio_range=(1.0, 1.0), flip_ratio=0.0)
    torch.manual_seed(0)
    for i in range(12):
        current = sources[i % len(sources)]
        out = mixup(_copy(current))
        if i == 0:
            continue
        n = len(current["gt_labels"])
        assert out["img"].shape == (64, 64, 3)
        np.testing.assert_array_equal(out["gt_bboxes"][:n], current["gt_bboxes"])
        np.testing.assert_array_equal(out["gt_labels"][:n], current["gt_labels"])
        boxes, labels = out["gt_bboxes"][n:], out["gt_labels"][n:]
        retrieved = _source_of(int(labels[0]), sources)
        np.testing.assert_array_equal(labels, retrieved["gt_labels"])
        np.testing.assert_array_equal(out["gt_ignore_flags"][n:], retrieved["gt_ignore_flags"])
        part = _retrieved_part(out["img"], current["img"])
        np.testing.assert_allclose(part, retrieved["img"][:, ::-1], atol=1)  # flipped
        for label in retrieved["gt_labels"]:
            near = (np.abs(part - _colour(label).astype(int)) <= 1).all(-1)
            np.testing.assert_array_equal(_box_mask(boxes[labels == label], 64, 64), near)


def test_mixup_with_jitter_and_crop_keeps_each_box_on_its_colour():
    # the canvas is jittered x1.3..1.6: it outgrows the 64 x 64 image and a random window
    # of it is blended in. The resized colours blur by 1 pixel, and the canvas' size is
    # truncated to an int while the boxes scale by the jitter itself (as in MMDetection):
    # up to 1 more pixel, so the check is 2 pixels inside each box, 1 pixel outside
    sources = _samples(5, [(64, 64)])
    mixup = CachedMixUp(img_scale=(64, 64), ratio_range=(1.3, 1.6), max_cached_images=6)
    torch.manual_seed(3)
    for source in sources:
        mixup(_copy(source))
    checked = cut_off = 0
    for i in range(25):
        current = _sample(100, 64, 64, seed=100 + i, img_id=100 + i)
        current["img"][:] = 0  # a black current image: the blend is half the retrieved one
        out = mixup(_copy(current))
        mixup.results_cache = mixup.results_cache[:5]  # the cache keeps the sources only
        n = len(current["gt_labels"])
        assert out["img"].shape == (64, 64, 3) and out["img_shape"] == (64, 64)
        boxes, labels = out["gt_bboxes"][n:], out["gt_labels"][n:]
        if not len(labels) or labels[0] >= 100:  # the current sample drew itself
            continue
        checked += 1
        retrieved = _source_of(int(labels[0]), sources)
        part = _retrieved_part(out["img"], current["img"])
        for box, label in zip(boxes, labels):
            x1, y1, x2, y2 = box
            top, left = int(np.ceil(y1)) + 2, int(np.ceil(x1)) + 2
            inner = part[top : max(top, int(y2) - 2), left : max(left, int(x2) - 2)]
            assert (np.abs(inner - _colour(label).astype(int)) <= 2).all(), f"{label} {box}"
        for label in retrieved["gt_labels"]:
            near = (np.abs(part - _colour(label).astype(int)) <= 2).all(-1)
            assert not (near & ~_centres_in(boxes[labels == label], 64, 64)).any()
            cut_off += label not in labels
    assert checked > 15
    assert cut_off > 0  # some windows cut boxes off, and those are gone


def test_mixup_scales_the_retrieved_boxes_by_the_fit_ratio():
    retrieved = _sample(0, 32, 48)  # fits 64 x 64 at 4 / 3: 64 x 42
    current = _sample(10, 80, 100)
    mixup = CachedMixUp(img_scale=(64, 64), ratio_range=(1.0, 1.0), flip_ratio=1.0)
    torch.manual_seed(0)
    mixup(_copy(retrieved))
    for _ in range(20):  # until the retrieved sample is drawn rather than the current one
        mixup.results_cache = mixup.results_cache[:1]
        out = mixup(_copy(current))
        if 0 in out["gt_labels"]:
            break
    n = len(current["gt_labels"])
    assert out["img"].shape == (80, 100, 3)
    np.testing.assert_allclose(out["gt_bboxes"][n:], retrieved["gt_bboxes"] * 4 / 3, rtol=1e-6)
    np.testing.assert_array_equal(out["gt_labels"][n:], retrieved["gt_labels"])
    # right of the 64 x 64 canvas the retrieved side is the pad grey
    expected = (0.5 * current["img"][:, 64:] + 0.5 * PAD).astype(np.uint8)
    np.testing.assert_array_equal(out["img"][:, 64:], expected)


def test_mixup_cache_and_pass_through():
    sources = _samples(6, [(32, 32)])
    mixup = CachedMixUp(img_scale=(32, 32), max_cached_images=3, random_pop=False)
    torch.manual_seed(0)
    first = _copy(sources[0])
    out = mixup(first)
    assert out is first
    np.testing.assert_array_equal(out["img"], sources[0]["img"])
    for i in range(1, 6):
        out = mixup(_copy(sources[i]))
        assert len(mixup.results_cache) == min(i + 1, 3)
        assert out["img"].shape == (32, 32, 3)
    assert [r["img_id"] for r in mixup.results_cache] == [3, 4, 5]

    empty = _sample(0, 32, 32, n=0)
    no_boxes = CachedMixUp(img_scale=(32, 32))
    no_boxes(_copy(empty))
    out = no_boxes(_copy(empty))
    np.testing.assert_array_equal(out["img"], empty["img"])

    never = CachedMixUp(img_scale=(32, 32), prob=0.0)
    for i in range(4):
        np.testing.assert_array_equal(never(_copy(sources[i]))["img"], sources[i]["img"])

    masked = _sample(0, 32, 32)
    masked["gt_masks"] = np.zeros((5, 32, 32), dtype=bool)
    with pytest.raises(ConfigError, match=r"CachedMixUp does not mix masks"):
        CachedMixUp()(masked)
    with pytest.raises(ConfigError, match="ratio_range"):
        CachedMixUp(ratio_range=(2.0, 1.0))


# --- YOLOXHSVRandomAug -------------------------------------------------------------------

# pixels whose hue is not near a rounding tie of OpenCV's fixed-point hue (0..180)
PIXELS = [
    (200, 60, 40),
    (30, 160, 90),
    (60, 70, 220),
    (128, 128, 128),
    (10, 20, 30),
    (255, 0, 0),
    (0, 0, 255),
    (240, 120, 0),
    (0, 0, 0),
    (255, 255, 255),
    (100, 30, 30),
    (250, 30, 200),
]


def _hsv_reference(pixel, gains):
    """colorsys's HSV shift of one RGB pixel, with OpenCV's 8-bit ranges (h 0..180)."""
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in pixel))
    hue = (round(h * 180) + gains[0]) % 180
    sat = min(max(round(s * 255) + gains[1], 0), 255)
    val = min(max(round(v * 255) + gains[2], 0), 255)
    return [round(c * 255) for c in colorsys.hsv_to_rgb(hue / 180, sat / 255, val / 255)]


@pytest.mark.parametrize("gains", [(4, -20, 25), (-5, 30, -30), (90, 0, 0), (3, -300, 300)])
def test_hsv_shift_matches_colorsys(gains):
    img = np.array([PIXELS], dtype=np.uint8)
    out = YOLOXHSVRandomAug.apply(img, gains)
    expected = np.array([[_hsv_reference(p, gains) for p in PIXELS]])
    np.testing.assert_allclose(out.astype(int), expected, atol=2)


def test_hsv_zero_gains_keep_the_image_and_boxes():
    img = np.array([PIXELS], dtype=np.uint8)
    np.testing.assert_allclose(YOLOXHSVRandomAug.apply(img, (0, 0, 0)), img, atol=1)
    results = _sample(0, 16, 24)
    boxes = results["gt_bboxes"].copy()
    torch.manual_seed(0)
    out = YOLOXHSVRandomAug()(results)
    assert out["img"].shape == (16, 24, 3) and out["img"].dtype == np.uint8
    np.testing.assert_array_equal(out["gt_bboxes"], boxes)


def test_hsv_gains_are_bounded_ints_each_kept_half_the_time():
    aug = YOLOXHSVRandomAug(hue_delta=5, saturation_delta=30, value_delta=30)
    torch.manual_seed(0)
    gains = np.array([aug.gains() for _ in range(400)])
    assert gains.dtype == np.int16
    assert (np.abs(gains) <= [5, 30, 30]).all()
    zero = (gains == 0).mean(0)
    assert ((zero > 0.4) & (zero < 0.75)).all()  # 0.5 dropped, plus small draws truncated
    torch.manual_seed(0)
    again = np.array([aug.gains() for _ in range(400)])
    np.testing.assert_array_equal(gains, again)


# --- the recipe --------------------------------------------------------------------------


def test_rtmdet_recipe_builds_from_its_config_and_keeps_boxes_in_the_image():
    pipeline = Compose(
        [
            dict(type="CachedMosaic", img_scale=(64, 64), pad_val=114.0),
            dict(type="DetRandomResize", scale=(128, 128), ratio_range=(0.1, 2.0)),
            dict(type="DetRandomCrop", crop_size=(64, 64)),
            dict(type="YOLOXHSVRandomAug"),
            dict(type="DetRandomFlip", prob=0.5),
            dict(type="DetPad", size=(64, 64), pad_value=114),
            dict(
                type="CachedMixUp",
                img_scale=(64, 64),
                ratio_range=(1.0, 1.0),
                max_cached_images=20,
                pad_val=(114, 114, 114),
            ),
        ]
    )
    sources = _samples(8, [(48, 64), (64, 48)])
    torch.manual_seed(0)
    done = 0
    for i in range(16):
        out = pipeline(_copy(sources[i % len(sources)]))
        if out is None:  # the crop held no box
            continue
        done += 1
        assert out["img"].shape == (64, 64, 3)
        boxes = out["gt_bboxes"]
        assert len(boxes) == len(out["gt_labels"]) == len(out["gt_ignore_flags"])
        assert (boxes >= 0).all() and (boxes <= 64).all()
        assert ((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])).all()
    assert done > 8


def _copy(results):
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in results.items()}
