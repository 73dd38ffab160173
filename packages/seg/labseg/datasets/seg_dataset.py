"""Folder datasets of images and PNG label maps.

A label map is a single-channel PNG (8 or 16 bit, or a palette PNG whose indices are the
labels) of its image's size: value ``k`` is class ``k`` of ``classes``, ``ignore_index``
(255) marks pixels that no loss or metric counts. With ``reduce_zero_label`` the file's 0
means "other" and becomes the ignore index, and ``k`` becomes class ``k - 1`` (ADE20K).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mmengine.dataset import BaseDataset

from labcore.errors import ConfigError, LabError
from labseg.registry import DATASETS


class SegDataError(LabError, ValueError):
    """An image, label map or list file of a segmentation dataset is missing or wrong."""


def read_class_names(path: str | os.PathLike) -> tuple[str, ...]:
    """Class names from a text file, one per line (blank lines skipped)."""
    path = Path(path)
    if not path.is_file():
        raise SegDataError(
            f"Classes file not found: '{path}'. Write one class name per line, in label order."
        )
    names = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if not names:
        raise SegDataError(f"Classes file '{path}' lists no class; write one name per line.")
    return names


@DATASETS.register_module()
class SegDataset(BaseDataset):
    """Images in one folder and their label maps in another, matched by name.

    The image ``<img_dir>/<name><img_suffix>`` has the label map
    ``<seg_dir>/<name><seg_map_suffix>``; ``name`` may hold sub-folders (Cityscapes'
    cities). Without ``ann_file`` every image under the image folder is used, sorted;
    with it, the names listed in it (one per line, without suffix), and with a list of
    files their concatenation in order (VOC's train + aug split).

    Each data item is a dict with ``img_path``, ``seg_map_path``, ``reduce_zero_label``,
    ``num_classes`` and ``ignore_index`` (read by :class:`LoadSegAnnotations`).
    ``metainfo`` holds ``classes`` and ``palette`` (one RGB colour per class).

    Args:
        data_root: folder that relative paths start from.
        data_prefix: ``dict(img_path='images/train', seg_map_path='annotations/train')``.
        img_suffix, seg_map_suffix: file name endings of images and label maps.
        ann_file: a list file, or a list of them, relative to ``data_root``; or None.
        classes: class names in label order; or None to read ``classes_file``.
        classes_file: a text file with one class name per line, relative to
            ``data_root`` (default ``classes.txt`` when ``classes`` is None).
        reduce_zero_label: see the module docstring.
        ignore_index: label value of pixels that do not count.
        synthetic: when given, the data set is the synthetic shapes set
            ``labcore.datasets.synthetic.ensure_shapes('seg', **synthetic)`` (generated on
            first use) and ``data_root`` is its folder.
        pipeline, test_mode, lazy_init, indices, max_refetch: as MMEngine's BaseDataset.

    Raises:
        SegDataError: a folder, list file, listed image or its label map is missing; the
            message names it.
    """

    default_classes: tuple[str, ...] | None = None
    default_img_suffix = ".jpg"
    default_seg_map_suffix = ".png"
    default_reduce_zero_label = False

    def __init__(
        self,
        *,
        data_root: str | None = None,
        data_prefix: dict | None = None,
        img_suffix: str | None = None,
        seg_map_suffix: str | None = None,
        ann_file: str | Sequence[str] | None = None,
        classes: Sequence[str] | None = None,
        classes_file: str | None = None,
        reduce_zero_label: bool | None = None,
        ignore_index: int = 255,
        synthetic: dict | None = None,
        pipeline: Sequence = (),
        test_mode: bool = False,
        lazy_init: bool = False,
        indices: int | Sequence[int] | None = None,
        max_refetch: int = 1000,
    ):
        if synthetic is not None:
            from labcore.datasets.synthetic import ensure_shapes

            data_root = str(ensure_shapes("seg", **synthetic))
        self.img_suffix = self.default_img_suffix if img_suffix is None else img_suffix
        self.seg_map_suffix = (
            self.default_seg_map_suffix if seg_map_suffix is None else seg_map_suffix
        )
        self.reduce_zero_label = (
            self.default_reduce_zero_label if reduce_zero_label is None else reduce_zero_label
        )
        self.ignore_index = ignore_index
        self.list_files = (
            [] if ann_file is None else [ann_file] if isinstance(ann_file, str) else list(ann_file)
        )
        root = Path(data_root or "")
        if classes is None and self.default_classes is None:
            path = Path(classes_file or "classes.txt")
            classes = read_class_names(path if path.is_absolute() else root / path)
        elif classes is None:
            classes = self.default_classes
        classes = tuple(classes)
        if len(classes) < 2:
            raise ConfigError(
                f"A segmentation dataset needs at least 2 classes (a binary task is "
                f"('background', 'foreground')), got {classes}."
            )
        super().__init__(
            ann_file="",
            metainfo=dict(classes=classes, palette=make_palette(len(classes))),
            data_root=str(root),
            data_prefix=dict(img_path="", seg_map_path="")
            if data_prefix is None
            else dict(data_prefix),
            filter_cfg=None,
            pipeline=list(pipeline),
            test_mode=test_mode,
            lazy_init=lazy_init,
            indices=indices,
            max_refetch=max_refetch,
        )

    def _names(self, img_dir: Path) -> list[str]:
        if not self.list_files:
            if not img_dir.is_dir():
                raise SegDataError(
                    f"Image folder not found: '{img_dir}'. Check the dataset's data_root and "
                    f"data_prefix.img_path."
                )
            return sorted(
                str(p.relative_to(img_dir))[: -len(self.img_suffix)]
                for p in img_dir.rglob(f"*{self.img_suffix}")
            )
        names = []
        for list_file in self.list_files:
            path = Path(list_file)
            path = path if path.is_absolute() else Path(self.data_root) / path
            if not path.is_file():
                raise SegDataError(
                    f"List file not found: '{path}'. Check the dataset's data_root and ann_file."
                )
            names += [line.strip() for line in path.read_text().splitlines() if line.strip()]
        return names

    def load_data_list(self) -> list[dict]:
        img_dir = Path(self.data_prefix.get("img_path", ""))
        seg_dir = Path(self.data_prefix.get("seg_map_path", ""))
        data_list = []
        for name in self._names(img_dir):
            img_path = img_dir / f"{name}{self.img_suffix}"
            seg_map_path = seg_dir / f"{name}{self.seg_map_suffix}"
            for kind, path in (("image", img_path), ("label map", seg_map_path)):
                if not path.is_file():
                    raise SegDataError(
                        f"The {kind} of '{name}' is missing: '{path}' does not exist. Check "
                        f"data_prefix and the suffixes (img_suffix={self.img_suffix!r}, "
                        f"seg_map_suffix={self.seg_map_suffix!r}), or remove '{name}' from "
                        f"the data."
                    )
            data_list.append(
                dict(
                    img_path=str(img_path),
                    seg_map_path=str(seg_map_path),
                    reduce_zero_label=self.reduce_zero_label,
                    num_classes=len(self.metainfo["classes"]),
                    ignore_index=self.ignore_index,
                )
            )
        return data_list


def make_palette(num_classes: int) -> list[tuple[int, int, int]]:
    """A distinct RGB colour per class (the PASCAL VOC bit-interleaving palette)."""
    palette = []
    for label in range(num_classes):
        r = g = b = 0
        value = label
        for shift in range(7, -1, -1):
            r |= (value & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        palette.append((r, g, b))
    return palette
