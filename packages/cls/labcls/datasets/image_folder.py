"""ImageNet-style folder datasets: an annotation file, or one folder per class."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mmengine.dataset import BaseDataset

from labcls.datasets.errors import DatasetError
from labcls.datasets.pipeline import build_pipeline
from labcls.registry import DATASETS
from labcore.datasets.annotation_files import read_text_lines

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def read_class_names(classes: str | os.PathLike | Sequence[str]) -> tuple[str, ...]:
    """Class names from a sequence, or from a text file with one name per line."""
    if isinstance(classes, (str, os.PathLike)):
        path = Path(classes)
        if not path.is_file():
            raise DatasetError(
                f"Class-name file '{path}' does not exist; give a list of class names or a "
                f"text file with one name per line."
            )
        lines = read_text_lines(path, what="Class-name file")
        return tuple(line.strip() for line in lines if line.strip())
    return tuple(classes)


@DATASETS.register_module(name=["CustomDataset", "ImageNet"])
class CustomDataset(BaseDataset):
    """An image-classification dataset on disk, in the layout of ImageNet.

    With ``ann_file``: each line is ``<relative image path> <label>``, the path relative
    to ``data_root/data_prefix`` (the ImageNet ``meta/train.txt`` style). Without it: the
    images are found in ``data_root/data_prefix/<class name>/**``, the class names being
    the sorted folder names, unless ``classes`` gives them.

    Class names come from ``classes`` (a list or a text file, one name per line), else
    from ``metainfo['classes']``, else from ``data_root/classes.txt`` when it exists.

    Each sample is ``dict(img_path=str, gt_label=int)``.

    Args:
        data_root: the dataset's root folder.
        ann_file: annotation file, relative to ``data_root`` (or absolute); '' for the
            class-per-folder layout.
        data_prefix: the image folder relative to ``data_root``; a str or
            ``dict(img_path=...)``.
        classes: class names, or a file of them.
        metainfo, pipeline, test_mode, lazy_init, indices, serialize_data, max_refetch:
            as in :class:`mmengine.dataset.BaseDataset`.

    Raises:
        DatasetError: a malformed annotation line or a label outside the classes (the
            message names the file and line), or a folder without images.
    """

    def __init__(
        self,
        *,
        data_root: str = "",
        ann_file: str = "",
        data_prefix: str | dict = "",
        classes: str | Sequence[str] | None = None,
        metainfo: dict | None = None,
        pipeline: Sequence[dict] = (),
        test_mode: bool = False,
        lazy_init: bool = False,
        indices: int | Sequence[int] | None = None,
        serialize_data: bool = True,
        max_refetch: int = 1000,
    ):
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        metainfo = dict(metainfo or {})
        if classes is not None:
            metainfo["classes"] = read_class_names(classes)
        elif "classes" not in metainfo and data_root:
            default_file = Path(data_root) / "classes.txt"
            if default_file.is_file():
                metainfo["classes"] = read_class_names(default_file)
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=build_pipeline(pipeline),
            test_mode=test_mode,
            lazy_init=lazy_init,
            indices=indices,
            serialize_data=serialize_data,
            max_refetch=max_refetch,
        )

    @property
    def classes(self) -> tuple[str, ...] | None:
        """The class names, index = label, or None when unknown."""
        return self.metainfo.get("classes")

    def load_data_list(self) -> list[dict]:
        image_root = Path(self.data_prefix.get("img_path", "") or self.data_root)
        if self.ann_file:
            return self._load_annotation_file(Path(self.ann_file), image_root)
        return self._load_class_folders(image_root)

    def _load_annotation_file(self, ann_file: Path, image_root: Path) -> list[dict]:
        if not ann_file.is_file():
            raise DatasetError(
                f"Annotation file '{ann_file}' does not exist. Check data_root and ann_file, "
                f"or set ann_file='' to read one folder per class."
            )
        num_classes = len(self.classes) if self.classes else None
        data_list = []
        for number, line in enumerate(read_text_lines(ann_file), start=1):
            if not line.strip():
                continue
            parts = line.rsplit(maxsplit=1)
            try:
                label = int(parts[1])
            except (IndexError, ValueError):
                raise DatasetError(
                    f"{ann_file}:{number}: expected '<image path> <integer label>', got {line!r}."
                ) from None
            if label < 0 or (num_classes is not None and label >= num_classes):
                valid = f"0..{num_classes - 1}" if num_classes else "non-negative"
                raise DatasetError(
                    f"{ann_file}:{number}: label {label} is out of range ({valid} for "
                    f"{num_classes or 'the'} classes) in line {line!r}. Fix the label or the "
                    f"class list."
                )
            data_list.append(dict(img_path=str(image_root / parts[0]), gt_label=label))
        return data_list

    def _load_class_folders(self, image_root: Path) -> list[dict]:
        if not image_root.is_dir():
            raise DatasetError(
                f"Image folder '{image_root}' does not exist. Check data_root and data_prefix."
            )
        folders = sorted(p.name for p in image_root.iterdir() if p.is_dir())
        classes = self.classes
        if classes is None:
            classes = tuple(folders)
            self._metainfo["classes"] = classes
        unknown = sorted(set(folders) - set(classes))
        if unknown:
            raise DatasetError(
                f"Folders {unknown} in '{image_root}' are not among the {len(classes)} class "
                f"names; add them to `classes` or remove the folders."
            )
        data_list = []
        for label, name in enumerate(classes):
            folder = image_root / name
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*")):
                if path.suffix.lower() in IMAGE_EXTENSIONS:
                    data_list.append(dict(img_path=str(path), gt_label=label))
        if not data_list:
            raise DatasetError(
                f"No images ({', '.join(IMAGE_EXTENSIONS)}) found in the class folders of "
                f"'{image_root}'."
            )
        return data_list
