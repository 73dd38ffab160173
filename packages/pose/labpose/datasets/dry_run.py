"""Stand-in data for dry runs of the COCO keypoint protocols.

``labbench --dry-run`` builds every config of a protocol and runs a few iterations on
synthetic data in the real data set's format. :func:`coco_person_keypoints` turns the
synthetic shapes keypoints into a COCO *person* keypoint set (one category, COCO's 17
keypoint names; each shape's 5 keypoints fill the first five slots, the rest are
unlabelled) and writes a detector results file of the val boxes, so both the
ground-truth-box and the detector-box protocols dry-run unchanged.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from labcore.datasets.synthetic import ensure_shapes
from labpose.datasets.metainfo import load_metainfo

DETECTIONS_FILE = "annotations/detections_val.json"


def _as_person(coco: dict, names: list[str]) -> dict:
    extra = [0] * 3 * (len(names) - len(coco["categories"][0]["keypoints"]))
    for ann in coco["annotations"]:
        ann["category_id"] = 1
        ann["keypoints"] = list(ann["keypoints"]) + extra
    coco["categories"] = [
        {"id": 1, "name": "person", "supercategory": "person", "keypoints": names, "skeleton": []}
    ]
    return coco


def coco_person_keypoints(**synthetic) -> Path:
    """The folder of the person-keypoint view of ``ensure_shapes('pose', **synthetic)``:
    links to its image folders and ``annotations/keypoints_{train,val}.json`` with COCO's
    17 keypoints, plus :data:`DETECTIONS_FILE` (every val box, score 0.9)."""
    root = ensure_shapes("pose", **synthetic)
    view = root.with_name(f"{root.name}-coco-person")
    if (view / "annotations").is_dir():
        return view
    names = load_metainfo("coco")["keypoint_names"]
    staging = Path(tempfile.mkdtemp(prefix=f".{view.name}.tmp-", dir=root.parent))
    for entry in root.iterdir():
        if entry.name != "annotations":
            (staging / entry.name).symlink_to(entry)
    (staging / "annotations").mkdir()
    for split in ("train", "val"):
        coco = json.loads((root / "annotations" / f"keypoints_{split}.json").read_text())
        coco = _as_person(coco, names)
        (staging / "annotations" / f"keypoints_{split}.json").write_text(json.dumps(coco))
        if split == "val":
            detections = [
                {"image_id": a["image_id"], "category_id": 1, "bbox": a["bbox"], "score": 0.9}
                for a in coco["annotations"]
            ]
            (staging / DETECTIONS_FILE).write_text(json.dumps(detections))
    try:
        staging.rename(view)
    except OSError:  # another process made the view first
        shutil.rmtree(staging, ignore_errors=True)
    return view
