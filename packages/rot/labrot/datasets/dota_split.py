"""Cut large DOTA images into patches with sliding windows, as MMRotate's ``img_split.py``.

DOTA's images are up to 20,000 px wide; detectors train and test on patches of them.
:func:`split_dota` reads a DOTA-format folder (``images/`` and ``labelTxt/`` or
``annfiles/``, through :class:`~labrot.datasets.DOTADataset`) and writes ``images/`` and
``annfiles/`` of patches in the same format, which ``DOTADataset`` reads back. What it
does, as MMRotate does it:

- each rate first rescales the image (and its polygons) by that rate; windows of
  ``size`` px then slide with a step of ``size - gap``, and the last window of a row or
  column is moved back to end flush with the image edge (an image no larger than
  ``size`` gets one window at 0). This gives MMRotate's multi-scale patches, whose
  windows are ``size / rate`` px of the original image and which MMRotate's pipeline
  resizes to ``size``; here they are written at ``size`` px already;
- a window whose part inside the image is at most ``img_rate_thr`` of its area is
  dropped, unless no window of the image is larger (then the largest ones stay);
- an object goes into a window when its polygon's IoF (intersection with the window
  over the polygon's area) is at least ``iof_thr``. Its polygon is moved into the
  patch's coordinates, not clipped: a partly covered object (IoF below 1) keeps corners
  outside the patch and is marked difficult ``2``, MMRotate's truncation flag;
- patches at the right or bottom edge are padded to ``size`` x ``size`` with
  ``padding_value`` (MMRotate's split configs pad with BGR (104, 116, 124), i.e. RGB
  (124, 116, 104));
- every patch is written, with or without objects (training configs skip empty ones
  with ``filter_empty_gt``); a test split (``with_labels=False``) writes empty label files;
- patches are named ``<image>__<rate>__<x>___<y>`` (:class:`~labrot.structures.PatchName`),
  from which :func:`labrot.models.postprocess.merge_patch_detections` maps detections
  back to the full image.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from math import ceil
from pathlib import Path

import numpy as np

from labcore.errors import LabError
from labrot.datasets.dota import DOTA_V1_CLASSES, IMAGE_SUFFIXES, DOTADataset
from labrot.structures import PatchName

LABEL_FOLDERS = ("labelTxt", "annfiles")
"""Where a DOTA folder keeps its label files: DOTA's own name, then MMRotate's."""


@dataclass(frozen=True)
class SplitSettings:
    """How images are cut (the fields of MMRotate's split configs).

    Attributes:
        size: side of a patch in px (after rescaling).
        gap: overlap of neighbouring windows in px; the step is ``size - gap``.
        rates: the image is cut once per rate, rescaled by it first.
        img_rate_thr: a window must lie more than this fraction inside the image.
        iof_thr: an object goes into a window when its polygon's IoF is at least this.
        padding: pad edge patches to ``size`` x ``size``.
        padding_value: RGB fill of the padding.
        with_labels: read label files (False for DOTA's test set, which has none).
        ext: image file suffix of the patches, ``.png`` or ``.jpg``.
    """

    size: int = 1024
    gap: int = 200
    rates: tuple[float, ...] = (1.0,)
    img_rate_thr: float = 0.6
    iof_thr: float = 0.7
    padding: bool = True
    padding_value: tuple[int, int, int] = (124, 116, 104)
    with_labels: bool = True
    ext: str = ".png"

    def __post_init__(self):
        if not 0 <= self.gap < self.size:
            raise LabError(
                f"split-dota: gap {self.gap} with size {self.size}; the gap (overlap) must be "
                f"at least 0 and smaller than the size."
            )
        if not self.rates or any(r <= 0 for r in self.rates):
            raise LabError(f"split-dota: rates {self.rates}; give one or more positive rates.")
        if not 0 <= self.iof_thr <= 1 or not 0 <= self.img_rate_thr <= 1:
            raise LabError(
                f"split-dota: iof_thr {self.iof_thr} and img_rate_thr {self.img_rate_thr} "
                f"must lie in [0, 1]."
            )
        if self.ext not in (".png", ".jpg"):
            raise LabError(f"split-dota: image suffix {self.ext!r}; use '.png' or '.jpg'.")


_SINGLE_SCALE = SplitSettings(size=1024, gap=200, rates=(1.0,))
_MULTI_SCALE = SplitSettings(size=1024, gap=500, rates=(0.5, 1.0, 1.5))
PRESETS: dict[str, SplitSettings] = {
    "ss_train": _SINGLE_SCALE,
    "ss_val": _SINGLE_SCALE,
    "ss_trainval": _SINGLE_SCALE,
    "ss_test": replace(_SINGLE_SCALE, with_labels=False),
    "ms_train": _MULTI_SCALE,
    "ms_val": _MULTI_SCALE,
    "ms_trainval": _MULTI_SCALE,
    "ms_test": replace(_MULTI_SCALE, with_labels=False),
}
"""MMRotate's DOTA split configs (``tools/data/dota/split/split_configs/*.json``): single
scale, 1024 px patches with a gap of 200; multi-scale, rates 0.5, 1.0 and 1.5 with a gap
of 500; the test splits read no labels."""


@dataclass
class SplitSummary:
    """What :func:`split_dota` wrote."""

    images: int = 0
    patches: int = 0
    objects: int = 0  # object lines written over all patches
    truncated: int = 0  # of them, partly covered ones (difficult 2)
    empty_patches: int = 0
    seconds: float = 0.0
    out: Path = field(default_factory=Path)

    def add(self, image: dict) -> None:
        self.images += 1
        for key in ("patches", "objects", "truncated", "empty_patches"):
            setattr(self, key, getattr(self, key) + image[key])


def sliding_windows(
    width: int, height: int, size: int, gap: int, img_rate_thr: float
) -> np.ndarray:
    """The windows cut from an image of ``width`` x ``height`` px: ndarray[W, 4] int64
    ``(x1, y1, x2, y2)``, x varying slowest (MMRotate's order).

    Starts step by ``size - gap``; a last window that would run past the edge is moved
    back to end at it. Windows whose part inside the image is at most ``img_rate_thr`` of
    their area are dropped, unless none is larger: then those within 0.01 of the largest
    fraction stay.
    """
    step = size - gap

    def starts(length: int) -> list[int]:
        count = 1 if length <= size else ceil((length - size) / step + 1)
        found = [step * i for i in range(count)]
        if len(found) > 1 and found[-1] + size > length:
            found[-1] = length - size
        return found

    xs, ys = starts(width), starts(height)
    start = np.array([(x, y) for x in xs for y in ys], dtype=np.int64).reshape(-1, 2)
    windows = np.concatenate([start, start + size], axis=1)
    inside_w = np.clip(windows[:, 2], 0, width) - np.clip(windows[:, 0], 0, width)
    inside_h = np.clip(windows[:, 3], 0, height) - np.clip(windows[:, 1], 0, height)
    rates = inside_w * inside_h / float(size * size)
    if not (rates > img_rate_thr).any():
        rates[np.abs(rates - rates.max()) < 0.01] = 1.0
    return windows[rates > img_rate_thr]


def _clipped_area(points: list[tuple[float, float]], window: Sequence[float]) -> float:
    """Area of the polygon ``points`` inside the axis-aligned ``window`` (x1, y1, x2, y2):
    Sutherland-Hodgman clipping against the window's four sides, then the shoelace."""
    x1, y1, x2, y2 = window
    for axis, bound, low in ((0, x1, True), (0, x2, False), (1, y1, True), (1, y2, False)):

        def inside(p, axis=axis, bound=bound, low=low):
            return p[axis] >= bound if low else p[axis] <= bound

        def crossing(a, b, axis=axis, bound=bound):
            t = (bound - a[axis]) / (b[axis] - a[axis])
            return (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))

        clipped = []
        for i, current in enumerate(points):
            previous = points[i - 1]
            if inside(current):
                if not inside(previous):
                    clipped.append(crossing(previous, current))
                clipped.append(current)
            elif inside(previous):
                clipped.append(crossing(previous, current))
        points = clipped
        if len(points) < 3:
            return 0.0
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def polygon_window_iof(polygons: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """IoF of polygons with windows: ndarray[N, W], the area of each polygon (ndarray[N, 8]
    ``x1, y1, ..., x4, y4``) inside each window (ndarray[W, 4] ``x1, y1, x2, y2``) over
    the polygon's area (at least 1e-6, as MMRotate's). Exactly 1 for a polygon inside."""
    iof = np.zeros((len(polygons), len(windows)))
    if not len(polygons) or not len(windows):
        return iof
    xs, ys = polygons[:, 0::2], polygons[:, 1::2]
    area = 0.5 * np.abs((xs * np.roll(ys, -1, 1) - np.roll(xs, -1, 1) * ys).sum(1))
    low = np.stack([xs.min(1), ys.min(1)], 1)[:, None]  # [N, 1, 2]
    high = np.stack([xs.max(1), ys.max(1)], 1)[:, None]
    inside = (low >= windows[None, :, :2]).all(-1) & (high <= windows[None, :, 2:]).all(-1)
    overlap = np.clip(
        np.minimum(high, windows[None, :, 2:]) - np.maximum(low, windows[None, :, :2]), 0, None
    )
    touching = (overlap.prod(-1) > 0) & ~inside
    iof[inside] = 1.0
    for n, w in zip(*np.nonzero(touching)):
        points = list(zip(xs[n].tolist(), ys[n].tolist()))
        iof[n, w] = _clipped_area(points, windows[w].tolist()) / max(area[n], 1e-6)
    return iof


def split_image(item: dict, settings: SplitSettings, out: Path, classes: Sequence[str]) -> dict:
    """Cut one image (a :class:`DOTADataset` data item) at every rate; write its patches to
    ``out/images`` and their labels to ``out/annfiles``. Returns the counts written."""
    from PIL import Image

    counts = dict(patches=0, objects=0, truncated=0, empty_patches=0)
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # DOTA's are huge
    try:
        with Image.open(item["img_path"]) as opened:
            image = opened.convert("RGB")
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    instances = item.get("instances", [])
    polygons = np.array([i["polygon"] for i in instances], dtype=np.float64).reshape(-1, 8)
    for rate in settings.rates:
        scaled = image
        if rate != 1.0:
            new_size = (max(1, round(image.width * rate)), max(1, round(image.height * rate)))
            scaled = image.resize(new_size, Image.BILINEAR)
        windows = sliding_windows(
            scaled.width, scaled.height, settings.size, settings.gap, settings.img_rate_thr
        )
        iof = polygon_window_iof(polygons * rate, windows)
        for w, (x1, y1, x2, y2) in enumerate(windows.tolist()):
            name = str(PatchName(item["img_id"], rate, x1, y1))
            crop = scaled.crop((x1, y1, min(x2, scaled.width), min(y2, scaled.height)))
            if settings.padding and crop.size != (x2 - x1, y2 - y1):
                patch = Image.new("RGB", (x2 - x1, y2 - y1), tuple(settings.padding_value))
                patch.paste(crop, (0, 0))
                crop = patch
            save = dict(compress_level=1) if settings.ext == ".png" else dict(quality=95)
            crop.save(out / "images" / f"{name}{settings.ext}", **save)
            lines = []
            for n in np.nonzero(iof[:, w] >= settings.iof_thr)[0].tolist():
                moved = polygons[n] * rate - np.array([x1, y1] * 4, dtype=np.float64)
                truncated = iof[n, w] < 1
                difficult = 2 if truncated else instances[n]["difficult"]
                coords = " ".join(f"{v:.10g}" for v in moved.tolist())
                lines.append(f"{coords} {classes[instances[n]['bbox_label']]} {difficult}\n")
                counts["truncated"] += int(truncated)
            (out / "annfiles" / f"{name}.txt").write_text("".join(lines))
            counts["patches"] += 1
            counts["objects"] += len(lines)
            counts["empty_patches"] += int(not lines)
    return counts


def resolve_classes(src: Path, classes_file: Path | None = None) -> tuple[str, ...]:
    """The class names of a DOTA folder: ``classes_file``, else a ``classes.txt`` in
    ``src`` or its parent (the synthetic rotated shapes set keeps one at its root), else
    DOTA v1.0's 15 classes."""
    if classes_file is not None and not classes_file.is_file():
        raise LabError(f"split-dota: the classes file '{classes_file}' does not exist.")
    candidates = (
        [classes_file] if classes_file else [src / "classes.txt", src.parent / "classes.txt"]
    )
    for path in candidates:
        if path.is_file():
            return tuple(n.strip() for n in path.read_text().splitlines() if n.strip())
    return DOTA_V1_CLASSES


def read_source(src: Path, settings: SplitSettings, classes: Sequence[str]) -> list[dict]:
    """The images of a DOTA folder as :class:`DOTADataset` data items (without labels for
    a test split: ``img_id``, ``img_path`` and no instances)."""
    images = src / "images"
    if not images.is_dir():
        raise LabError(
            f"split-dota: '{src}' has no images/ folder; point --src at a DOTA folder with "
            f"images/ and labelTxt/ (e.g. data/DOTA/train)."
        )
    if not settings.with_labels:
        found = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        return [dict(img_id=p.stem, img_path=os.fspath(p), instances=[]) for p in found]
    labels = next((src / name for name in LABEL_FOLDERS if (src / name).is_dir()), None)
    if labels is None:
        raise LabError(
            f"split-dota: '{src}' has no label folder ({' or '.join(LABEL_FOLDERS)}); "
            f"for images without labels (DOTA's test set) pass --no-labels or a *_test preset."
        )
    dataset = DOTADataset(
        data_root=os.fspath(src),
        data_prefix=dict(img="images/", ann=f"{labels.name}/"),
        classes=classes,
        test_mode=True,
        lazy_init=True,
    )
    return dataset.load_data_list()


def split_dota(
    src: str | os.PathLike,
    out: str | os.PathLike,
    settings: SplitSettings,
    *,
    classes_file: str | os.PathLike | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> SplitSummary:
    """Cut every image of the DOTA folder ``src`` into patches written to ``out``.

    Args:
        src: folder with ``images/`` and ``labelTxt/`` (or ``annfiles/``).
        out: new or empty folder; gets ``images/``, ``annfiles/`` and ``classes.txt``.
        settings: sizes, gaps, rates and thresholds (:data:`PRESETS` has MMRotate's).
        classes_file: class names, one a line (default: see :func:`resolve_classes`).
        workers: processes that cut images in parallel.
        progress: called with (images done, images in all) after each image.

    Raises:
        LabError: a missing folder, an ``out`` that holds files, or a bad settings value;
        DOTAFormatError: a label line that does not parse (its file and line named).
    """
    src, out = Path(src), Path(out)
    if out.exists() and any(out.iterdir()):
        raise LabError(f"split-dota: '{out}' is not empty; choose a new or empty --out folder.")
    started = time.perf_counter()
    classes = resolve_classes(src, Path(classes_file) if classes_file else None)
    items = read_source(src, settings, classes)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "annfiles").mkdir(exist_ok=True)
    (out / "classes.txt").write_text("".join(f"{name}\n" for name in classes))
    summary = SplitSummary(out=out)
    work = partial(split_image, settings=settings, out=out, classes=classes)
    if workers > 1 and len(items) > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(min(workers, len(items))) as pool:
            for counts in pool.imap_unordered(work, items):
                summary.add(counts)
                if progress:
                    progress(summary.images, len(items))
    else:
        for item in items:
            summary.add(work(item))
            if progress:
                progress(summary.images, len(items))
    summary.seconds = time.perf_counter() - started
    return summary
