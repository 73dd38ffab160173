"""Reading annotation files so that a broken one is named, with where it breaks.

Every codebase reads its annotation files through these functions: JSON (COCO and
other JSON formats) with :func:`read_json`, COCO files with :func:`load_coco`, and
line-based text files (image lists, class names) with :func:`read_text_lines`. A file
that is cut short, is not UTF-8 text or has the wrong structure raises
:class:`AnnotationFileError` naming the file, the line and column, and what to do.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from labcore.errors import LabError

COCO_KEYS = ("images", "annotations", "categories")


class AnnotationFileError(LabError, ValueError):
    """An annotation file is missing, cannot be parsed or does not hold the format
    its reader expects; the message names the file."""


def _read_text(path: Path, what: str) -> str:
    if not path.is_file():
        raise AnnotationFileError(
            f"{what} '{path}' does not exist. Check the dataset's data_root and ann_file."
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise AnnotationFileError(
            f"{what} '{path}' is not UTF-8 text (byte {err.start} cannot be decoded); it "
            f"is another kind of file or is damaged. Point ann_file at the right file."
        ) from None


def read_json(path: str | os.PathLike, *, what: str = "Annotation file") -> Any:
    """The parsed content of the JSON file ``path``.

    Raises:
        AnnotationFileError: the file is missing, not UTF-8, or not valid JSON (the
            message gives the line and column, and says when the file ends early).
    """
    path = Path(path)
    text = _read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        end = text.rstrip()
        cut = err.pos >= len(end) or not end.endswith(("}", "]"))
        hint = (
            "the file ends in the middle, so it was probably cut short (an interrupted "
            "download or copy). Download or generate it again."
            if cut
            else "fix the file or regenerate it."
        )
        raise AnnotationFileError(
            f"{what} '{path}' is not valid JSON: {err.msg} at line {err.lineno}, column "
            f"{err.colno}; {hint}"
        ) from None


def load_coco(path: str | os.PathLike, coco_class=None):
    """A ``pycocotools.coco.COCO`` of the COCO JSON file ``path``, with its index built
    (``coco_class``: another class with the same API, e.g. faster-coco-eval's COCO).

    Raises:
        AnnotationFileError: as :func:`read_json`, or the JSON is not a COCO file (not
            an object, or ``images`` / ``annotations`` / ``categories`` is not a list).
    """
    if coco_class is None:
        from pycocotools.coco import COCO as coco_class  # noqa: N811

    data = read_json(path, what="COCO annotation file")
    if not isinstance(data, dict):
        raise AnnotationFileError(
            f"COCO annotation file '{path}' holds a JSON {type(data).__name__}, not an object "
            f"with {', '.join(COCO_KEYS)}. Point ann_file at a COCO file."
        )
    wrong = [k for k in COCO_KEYS if k in data and not isinstance(data[k], list)]
    if "images" not in data or wrong:
        problem = f"'{wrong[0]}' is not a list" if wrong else "it has no 'images' list"
        raise AnnotationFileError(
            f"COCO annotation file '{path}' is not in COCO format: {problem} (top-level "
            f"keys: {sorted(data)}). Point ann_file at a COCO file."
        )
    coco = coco_class()
    coco.dataset = data
    coco.createIndex()
    return coco


def read_text_lines(path: str | os.PathLike, *, what: str = "Annotation file") -> list[str]:
    """The lines of the text file ``path`` (without line ends).

    Raises:
        AnnotationFileError: the file is missing or is not UTF-8 text.
    """
    return _read_text(Path(path), what).splitlines()
