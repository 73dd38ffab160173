"""Keypoint metainfo: the joints of a data set, their OKS sigmas, flip pairs, skeleton.

A metainfo file is YAML (see ``labpose/datasets/metainfo/coco.yml``)::

    dataset_name: my_animals
    keypoint_names: [nose, left_eye, right_eye, tail]
    sigmas: [0.026, 0.025, 0.025, 0.05]      # optional: needed for OKS (COCO AP)
    flip_pairs: [[left_eye, right_eye]]      # required for flip augmentation / flip test;
                                             # [] when no keypoint has a mirror image
    skeleton: [[nose, left_eye], [nose, right_eye]]   # optional: drawing
    upper_body: [nose, left_eye, right_eye]  # optional: RandomHalfBody
    lower_body: [tail]

:func:`load_metainfo` reads one (a path, or ``coco`` / ``shapes`` for the files that
ship with labpose; configs write ``metainfo=dict(from_file="coco")``) and returns the dict that datasets, transforms and metrics share.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from labcore.errors import ConfigError
from labpose.geometry import flip_indices

METAINFO_DIR = Path(__file__).parent / "metainfo"


def _names(meta: dict, key: str, names: list[str], where: str) -> list[str]:
    values = [str(v) for v in meta.get(key) or []]
    unknown = [v for v in values if v not in names]
    if unknown:
        raise ConfigError(
            f"Keypoint metainfo {where}: {key} names {unknown}, which are not among "
            f"keypoint_names {names}."
        )
    return values


def load_metainfo(source: str | os.PathLike | dict) -> dict:
    """The parsed metainfo of ``source``: a YAML path or a shipped name ('coco',
    'shapes'), ``dict(from_file=...)`` of one (as MMPose's configs write it), or a dict
    with the keys of the file.

    Returns a dict with ``dataset_name``, ``keypoint_names``, ``num_keypoints``,
    ``sigmas`` (list or None), ``flip_pairs`` (pairs of names, or None when the file
    has none), ``flip_indices`` (list of K mirror indices, or None), ``skeleton``
    (pairs of 0-based indices), ``upper_body_ids`` and ``lower_body_ids``.
    """
    if isinstance(source, dict) and set(source) == {"from_file"}:
        source = source["from_file"]
    if isinstance(source, dict):
        raw, where = dict(source), "(given as a dict)"
    else:
        path = Path(source)
        if not path.is_file() and (METAINFO_DIR / f"{source}.yml").is_file():
            path = METAINFO_DIR / f"{source}.yml"
        if not path.is_file():
            shipped = sorted(p.stem for p in METAINFO_DIR.glob("*.yml"))
            raise ConfigError(
                f"Keypoint metainfo file '{source}' does not exist; give the path of a YAML "
                f"file (see labpose.datasets.metainfo) or one of {shipped}."
            )
        raw, where = yaml.safe_load(path.read_text()) or {}, str(path)
    if "keypoint_names" in raw and "num_keypoints" in raw and "flip_indices" in raw:
        return raw  # already loaded
    names = [str(n) for n in raw.get("keypoint_names") or []]
    if not names or len(set(names)) != len(names):
        raise ConfigError(
            f"Keypoint metainfo {where} needs keypoint_names: a list of distinct names, one "
            f"per keypoint in the order of the annotation files."
        )
    sigmas = raw.get("sigmas")
    if sigmas is not None and len(sigmas) != len(names):
        raise ConfigError(
            f"Keypoint metainfo {where} has {len(sigmas)} sigmas for {len(names)} keypoints; "
            f"give one OKS sigma per keypoint."
        )
    pairs = raw.get("flip_pairs")
    if pairs is not None:
        for pair in pairs:
            if len(pair) != 2:
                raise ConfigError(f"Keypoint metainfo {where}: flip pair {pair} is not two names.")
            _names({"pair": pair}, "pair", names, where)
    skeleton = []
    for link in raw.get("skeleton") or []:
        _names({"link": link}, "link", names, where)
        skeleton.append([names.index(link[0]), names.index(link[1])])
    return dict(
        dataset_name=str(raw.get("dataset_name", "")),
        keypoint_names=names,
        num_keypoints=len(names),
        sigmas=None if sigmas is None else [float(s) for s in sigmas],
        flip_pairs=None if pairs is None else [list(p) for p in pairs],
        flip_indices=None if pairs is None else flip_indices(names, pairs),
        skeleton=skeleton,
        upper_body_ids=[names.index(n) for n in _names(raw, "upper_body", names, where)],
        lower_body_ids=[names.index(n) for n in _names(raw, "lower_body", names, where)],
    )
