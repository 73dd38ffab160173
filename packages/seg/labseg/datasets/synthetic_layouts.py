"""The synthetic shapes segmentation set laid out as the public benchmarks are.

Dry runs of the full protocols (``labbench --dry-run``) read these with the real dataset
classes and pipelines: ADE20K's ``images/training`` and ``annotations/training``,
Cityscapes' ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` and
``gtFine/.../*_gtFine_labelTrainIds.png``, and Pascal VOC's ``JPEGImages``,
``SegmentationClass(Aug)`` and ``ImageSets/Segmentation/{train,aug,val}.txt``. A view is
a sibling folder of links to the generated files (the shapes' labels 0..8 are valid in
each: ADE20K's reduce_zero_label makes the background 'other', i.e. ignored).

    root = ensure_shapes_layout("cityscapes", num_train=4, num_val=2, image_size=256)
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from labcore.datasets.synthetic import ensure_shapes
from labcore.errors import ConfigError

LAYOUTS = ("ade20k", "cityscapes", "voc12aug")


def _links(layout: str, split: str, stem: str) -> dict[str, str]:
    """Where the view puts the image and label map of one generated sample."""
    if layout == "ade20k":
        folder = {"train": "training", "val": "validation"}[split]
        return {
            f"images/{folder}/{stem}.jpg": f"images/{split}/{stem}.jpg",
            f"annotations/{folder}/{stem}.png": f"annotations/{split}/{stem}.png",
        }
    if layout == "cityscapes":
        return {
            f"leftImg8bit/{split}/shapes/{stem}_leftImg8bit.png": f"images/{split}/{stem}.jpg",
            f"gtFine/{split}/shapes/{stem}_gtFine_labelTrainIds.png": f"annotations/{split}/{stem}.png",
        }
    name = f"{split}_{stem}"
    return {
        f"JPEGImages/{name}.jpg": f"images/{split}/{stem}.jpg",
        f"SegmentationClass/{name}.png": f"annotations/{split}/{stem}.png",
        f"SegmentationClassAug/{name}.png": f"annotations/{split}/{stem}.png",
    }


def ensure_shapes_layout(layout: str, **shapes) -> Path:
    """The folder of the shapes 'seg' set (``ensure_shapes('seg', **shapes)``) viewed in
    ``layout`` ('ade20k', 'cityscapes' or 'voc12aug'), made on first use."""
    if layout not in LAYOUTS:
        raise ConfigError(f"Unknown shapes layout '{layout}'; choose one of {', '.join(LAYOUTS)}.")
    root = ensure_shapes("seg", **shapes)
    view = root.with_name(f"{root.name}-{layout}")
    if (view / "classes.txt").is_file():
        return view
    staging = Path(tempfile.mkdtemp(prefix=f".{view.name}.tmp-", dir=root.parent))
    lists: dict[str, list[str]] = {}
    for split in ("train", "val"):
        stems = sorted(p.stem for p in (root / "images" / split).glob("*.jpg"))
        lists[split] = [f"{split}_{stem}" for stem in stems]
        for stem in stems:
            for target, source in _links(layout, split, stem).items():
                (staging / target).parent.mkdir(parents=True, exist_ok=True)
                (staging / target).symlink_to(root / source)
    if layout == "voc12aug":  # VOC's train list, then the augmented set's
        folder = staging / "ImageSets" / "Segmentation"
        folder.mkdir(parents=True)
        half = (len(lists["train"]) + 1) // 2
        (folder / "train.txt").write_text("".join(f"{n}\n" for n in lists["train"][:half]))
        (folder / "aug.txt").write_text("".join(f"{n}\n" for n in lists["train"][half:]))
        (folder / "val.txt").write_text("".join(f"{n}\n" for n in lists["val"]))
    shutil.copy(root / "classes.txt", staging / "classes.txt")  # written last: complete
    try:
        staging.rename(view)
    except OSError:  # another process made the view first
        shutil.rmtree(staging, ignore_errors=True)
    return view
