"""DOTA Task 1 submission files: oriented detections of full images, one text file a class.

DOTA's evaluation server (and its devkit's ``dota_evaluation_task1.py``) reads
``Task1_<class>.txt`` files with a line ``<image> <score> x1 y1 x2 y2 x3 y3 x4 y4`` per
detection, zipped together; MMRotate's ``DOTAMetric(format_only=True,
merge_patches=True, outfile_prefix=...)`` writes the same files. Files of patches (written
without merging) are read back with :func:`read_task1_submission` and merged later
(``lab data merge-dota``).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

from labcore.errors import LabError
from labrot.structures import poly_to_rbox, rbox_to_poly


def write_task1_submission(
    detections: Mapping[str, tuple[Tensor, Tensor, Tensor]],
    classes: Sequence[str],
    out_dir: str | os.PathLike,
) -> Path:
    """Write ``out_dir/Task1_<class>.txt`` for every class and ``out_dir/<name>.zip`` of
    them (``<name>`` the folder's own name); returns the zip's path.

    Args:
        detections: ``{image: (boxes Tensor[K, 5] (cx, cy, w, h, angle), scores Tensor[K],
            labels Tensor[K])}`` in full-image pixels (e.g. from
            :func:`labrot.models.postprocess.merge_patch_detections`).
        classes: class names in label order.
        out_dir: a new folder (an existing one is refused, as MMRotate does, so results
            of two runs never mix).
    """
    out = Path(out_dir)
    if out.exists():
        raise LabError(
            f"DOTA submission folder '{out}' exists already; remove it or choose another "
            f"outfile_prefix, so that results of two runs do not mix."
        )
    out.mkdir(parents=True)
    lines: list[list[str]] = [[] for _ in classes]
    for image, (boxes, scores, labels) in detections.items():
        polygons = rbox_to_poly(boxes.detach().double().cpu()).tolist()
        for polygon, score, label in zip(polygons, scores.tolist(), labels.tolist()):
            coords = " ".join(f"{v:.2f}" for v in polygon)
            lines[int(label)].append(f"{image} {score:.6g} {coords}\n")
    files = []
    for name, class_lines in zip(classes, lines):
        path = out / f"Task1_{name}.txt"
        path.write_text("".join(class_lines))
        files.append(path)
    zip_path = out / f"{out.name}.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.name)
    return zip_path


TASK1_PREFIX = "Task1_"


def read_task1_submission(
    folder: str | os.PathLike,
) -> tuple[tuple[str, ...], list[tuple[str, Tensor, Tensor, Tensor]]]:
    """The detections in the ``Task1_<class>.txt`` files of ``folder``.

    Returns:
        (the classes, sorted by name, and per image (or patch) name ``(name, boxes
        Tensor[N, 5] float64 (cx, cy, w, h, angle) in le90, scores Tensor[N], labels
        Tensor[N])``); each polygon becomes its smallest enclosing rotated rectangle.

    Raises:
        LabError: a folder without such files, or a line that is not ``<image> <score>``
        and eight numbers (file and line named).
    """
    files = sorted(Path(folder).glob(f"{TASK1_PREFIX}*.txt"))
    if not files:
        raise LabError(
            f"'{folder}' holds no {TASK1_PREFIX}<class>.txt files; point at the folder that "
            f"DOTAMetric's outfile_prefix (with format_only=True) wrote."
        )
    classes = tuple(path.stem[len(TASK1_PREFIX) :] for path in files)
    rows: dict[str, list[tuple[list[float], float, int]]] = {}
    for label, path in enumerate(files):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.split()
            try:
                if len(fields) != 10:
                    raise ValueError
                score, polygon = float(fields[1]), [float(v) for v in fields[2:]]
            except ValueError:
                raise LabError(
                    f"{path}:{number}: {line.strip()!r} is not a Task 1 line, '<image> <score> "
                    f"x1 y1 x2 y2 x3 y3 x4 y4'. Fix or remove the line."
                ) from None
            rows.setdefault(fields[0], []).append((polygon, score, label))
    detections = []
    for name, found in rows.items():
        polygons, scores, labels = zip(*found)
        boxes = poly_to_rbox(torch.tensor(polygons, dtype=torch.float64), "le90")
        detections.append(
            (name, boxes, torch.tensor(scores, dtype=torch.float64), torch.tensor(labels))
        )
    return classes, detections
