"""Generation of the synthetic "shapes" data sets, and a cache of generated ones.

:func:`generate_shapes` writes one data set into a folder; :func:`ensure_shapes` keeps
one folder per ``(task, version, seed, sizes)`` under a cache root and generates it
only when absent (in a temporary folder renamed into place, under a file lock, so
concurrent test workers or training processes never see half a data set).

The output is a pure function of ``(task, version, seed, sizes)``: every image has its
own numpy ``Generator(PCG64)`` seeded from ``(seed, version, task, split, index)``, so
the first images of a split are the same whatever the split's length.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from labcore.datasets.annotation_files import read_json
from labcore.datasets.synthetic import formats
from labcore.datasets.synthetic.geometry import SHAPE_CLASSES
from labcore.datasets.synthetic.scene import render_classification_image, render_scene
from labcore.errors import LabError, close_matches
from labcore.folders import writable_folder

# The positions in TASKS and SPLITS seed the images: add new ones at the end only.
TASKS: tuple[str, ...] = ("cls", "det", "seg", "pose", "rot")
SPLITS: tuple[str, ...] = ("train", "val")
MANIFEST_NAME = "openlab_synthetic.json"
DATA_ENV_VAR = "OPENLAB_DATA"

DEFAULT_SIZES: dict[str, dict[str, int]] = {
    "cls": {"num_train": 2000, "num_val": 400, "image_size": 32},
    "det": {"num_train": 1000, "num_val": 200, "image_size": 128},
    "seg": {"num_train": 1000, "num_val": 200, "image_size": 128},
    "pose": {"num_train": 1000, "num_val": 200, "image_size": 128},
    "rot": {"num_train": 1000, "num_val": 200, "image_size": 128},
}
MIN_IMAGE_SIZE = 16

ProgressCallback = Callable[[str, int, int], None]
"""Called as ``progress(split, done, total)`` after each written image."""


@dataclass(frozen=True)
class ShapesVersion:
    """What one version of the generator draws, per task.

    Sizes are diameters as fractions of the image side; ``min_visible`` is the
    fraction of a shape's area that other shapes must leave visible.
    """

    cls_size_range: tuple[float, float]
    cls_max_distractors: int
    det_shapes: tuple[int, int]
    seg_shapes: tuple[int, int]
    pose_shapes: tuple[int, int]
    scene_size_range: tuple[float, float]
    pose_size_range: tuple[float, float]
    min_visible: float
    rot_shapes: tuple[int, int] = (2, 6)
    rot_min_visible: float = 0.3  # lets shapes be mostly covered: DOTA's "difficult"
    seg_size_range: tuple[float, float] | None = None  # None: scene_size_range


VERSIONS: dict[int, ShapesVersion] = {
    1: ShapesVersion(
        cls_size_range=(0.5, 0.9),
        cls_max_distractors=2,
        det_shapes=(2, 6),
        seg_shapes=(3, 7),
        pose_shapes=(1, 4),
        scene_size_range=(0.15, 0.5),
        pose_size_range=(0.25, 0.6),
        min_visible=0.5,
    ),
    # Version 2 changes the 'seg' scenes: 2-5 shapes of 0.25-0.6 of the side (16-38 px at
    # 64x64), so a small segmentor at output stride 4 can delineate every one of them.
    # The other tasks draw from version 1's distributions (other images: the version
    # seeds them).
    2: ShapesVersion(
        cls_size_range=(0.5, 0.9),
        cls_max_distractors=2,
        det_shapes=(2, 6),
        seg_shapes=(2, 5),
        pose_shapes=(1, 4),
        scene_size_range=(0.15, 0.5),
        pose_size_range=(0.25, 0.6),
        min_visible=0.5,
        seg_size_range=(0.25, 0.6),
    ),
}
DEFAULT_VERSION = 1
"""The version that ``lab data shapes``, :func:`generate_shapes` and :func:`ensure_shapes`
draw unless told otherwise."""


def generate_shapes(
    task: str,
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    version: int = DEFAULT_VERSION,
    num_train: int | None = None,
    num_val: int | None = None,
    image_size: int | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write the synthetic shapes data set for ``task`` into ``out_dir``.

    Args:
        task: 'cls', 'det', 'seg', 'pose' or 'rot' (formats in :mod:`.formats`).
        out_dir: the folder to fill; it must be absent or empty.
        seed: non-negative integer; equal arguments give byte-identical files.
        version: the generator's behaviour (see :data:`VERSIONS`).
        num_train, num_val: images per split (defaults in :data:`DEFAULT_SIZES`).
        image_size: height and width of the square images, in pixels.
        progress: optional ``progress(split, done, total)`` callback.

    Returns:
        The folder written, with a manifest ``openlab_synthetic.json`` that records the
        arguments and the sha256 of the annotation files.
    """
    settings = resolve_settings(
        task, seed=seed, version=version, num_train=num_train, num_val=num_val,
        image_size=image_size,
    )  # fmt: skip
    root = Path(out_dir)
    if root.exists() and any(root.iterdir()):
        raise LabError(
            f"Output folder {root} is not empty: the shapes data set is written into a new "
            f"or empty folder. Choose another --out or delete the folder's contents."
        )
    root.mkdir(parents=True, exist_ok=True)
    spec = VERSIONS[settings["version"]]
    if task == "seg":
        formats.write_class_names(root / "classes.txt", ("background", *SHAPE_CLASSES))
    elif task in ("cls", "rot"):
        formats.write_class_names(root / "classes.txt", SHAPE_CLASSES)

    for split in SPLITS:
        total = settings[f"num_{split}"]
        rngs = _image_rngs(task, settings, split, total, progress)
        size = settings["image_size"]
        if task == "cls":
            images = (
                (index, label, _classification_image(rng, spec, label, size))
                for index, rng in rngs
                for label in [index % len(SHAPE_CLASSES)]
            )
            formats.write_classification_split(root, split, images)
        elif task == "seg":
            formats.write_segmentation_split(root, split, _scenes(rngs, spec, task, size))
        elif task == "rot":
            formats.write_dota_split(root, split, _scenes(rngs, spec, task, size))
        else:
            info = {"description": f"OpenLab synthetic shapes ({task})", "task": task, **settings}
            formats.write_coco_split(
                root, split, _scenes(rngs, spec, task, size),
                info=info, with_keypoints=task == "pose",
            )  # fmt: skip
    formats.write_json(_manifest(root, task, settings), root / MANIFEST_NAME)
    return root


def ensure_shapes(
    task: str,
    root: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    version: int = DEFAULT_VERSION,
    num_train: int | None = None,
    num_val: int | None = None,
    image_size: int | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """The folder of a generated shapes data set, generating it first if absent.

    The folder is ``<root>/shapes-<task>-v<version>-seed<seed>-<train>x<val>-<size>px``
    with ``root`` defaulting to ``$OPENLAB_DATA``, else ``~/.cache/openlab/data``.
    A folder found there is checked against its manifest (:func:`verify_shapes`).
    Safe to call from several processes at once.
    """
    settings = resolve_settings(
        task, seed=seed, version=version, num_train=num_train, num_val=num_val,
        image_size=image_size,
    )  # fmt: skip
    cache = Path(root) if root is not None else default_data_root()
    name = (
        f"shapes-{task}-v{settings['version']}-seed{settings['seed']}-"
        f"{settings['num_train']}x{settings['num_val']}-{settings['image_size']}px"
    )
    target = cache / name
    if (target / MANIFEST_NAME).is_file():
        verify_shapes(target)
        return target
    writable_folder(cache, setting="root" if root is not None else DATA_ENV_VAR)
    with FileLock(str(cache / f".{name}.lock")):
        if (target / MANIFEST_NAME).is_file():  # another process finished meanwhile
            return target
        if target.exists():
            raise LabError(
                f"{target} exists but has no {MANIFEST_NAME}, so it is not a complete "
                f"generated data set. Delete the folder; it is generated again on next use."
            )
        for stale in cache.glob(f".{name}.tmp-*"):  # left by a process that was killed
            shutil.rmtree(stale, ignore_errors=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=cache))
        try:
            generate_shapes(task, temporary, progress=progress, **settings)
            temporary.rename(target)
        finally:
            if temporary.exists():
                shutil.rmtree(temporary, ignore_errors=True)
    return target


def default_data_root() -> Path:
    """``$OPENLAB_DATA`` if set, else ``~/.cache/openlab/data``."""
    configured = os.environ.get(DATA_ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "openlab" / "data"


def resolve_settings(
    task: str,
    *,
    seed: int,
    version: int,
    num_train: int | None,
    num_val: int | None,
    image_size: int | None,
) -> dict[str, int]:
    """Check the arguments of a generation and fill in the task's default sizes.

    Returns:
        ``{'seed', 'version', 'num_train', 'num_val', 'image_size'}``.
    """
    if task not in TASKS:
        matches = close_matches(str(task), TASKS)
        hint = f" Did you mean {matches[0]!r}?" if matches else ""
        raise LabError(f"Unknown shapes task {task!r}; choose one of {', '.join(TASKS)}.{hint}")
    if version not in VERSIONS:
        raise LabError(
            f"Unknown shapes generator version {version!r}; the known versions are "
            f"{', '.join(str(v) for v in sorted(VERSIONS))}. Pass one of them as version."
        )
    defaults = DEFAULT_SIZES[task]
    settings = {
        "seed": seed,
        "version": version,
        "num_train": defaults["num_train"] if num_train is None else num_train,
        "num_val": defaults["num_val"] if num_val is None else num_val,
        "image_size": defaults["image_size"] if image_size is None else image_size,
    }
    minimums = {"seed": 0, "num_train": 1, "num_val": 0, "image_size": MIN_IMAGE_SIZE}
    for key, minimum in minimums.items():
        value = settings[key]
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
            raise LabError(
                f"Shapes argument {key}={value!r} is invalid: it must be an integer >= {minimum}."
            )
        settings[key] = int(value)
    return settings


def image_rng(*, seed: int, version: int, task: str, split: str, index: int):
    """The random generator of one image: ``Generator(PCG64)`` seeded from the tuple."""
    key = [seed, version, TASKS.index(task), SPLITS.index(split), index]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(key)))


def _image_rngs(
    task: str, settings: dict, split: str, total: int, progress: ProgressCallback | None
) -> Iterator[tuple[int, np.random.Generator]]:
    for index in range(total):
        yield index, image_rng(
            seed=settings["seed"], version=settings["version"], task=task, split=split,
            index=index,
        )  # fmt: skip
        if progress is not None:
            progress(split, index + 1, total)


def _classification_image(rng, spec: ShapesVersion, label: int, size: int) -> np.ndarray:
    return render_classification_image(
        rng,
        label=label,
        image_size=size,
        size_range=spec.cls_size_range,
        max_distractors=spec.cls_max_distractors,
    )


def _scenes(rngs, spec: ShapesVersion, task: str, size: int):
    num_shapes = {
        "det": spec.det_shapes, "seg": spec.seg_shapes, "pose": spec.pose_shapes,
        "rot": spec.rot_shapes,
    }  # fmt: skip
    size_range = spec.pose_size_range if task == "pose" else spec.scene_size_range
    if task == "seg" and spec.seg_size_range is not None:
        size_range = spec.seg_size_range
    min_visible = spec.rot_min_visible if task == "rot" else spec.min_visible
    for index, rng in rngs:
        scene = render_scene(
            rng,
            image_size=size,
            num_shapes=num_shapes[task],
            size_range=size_range,
            min_visible=min_visible,
        )
        yield index, scene


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def annotation_digests(root: Path) -> dict[str, str]:
    """sha256 of every annotation file of a generated folder (JSON and text files; the
    label-map PNGs of a split are summarised by one digest over their names and
    digests)."""
    digests = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.suffix in (".json", ".txt") and relative != MANIFEST_NAME:
            digests[relative] = _sha256(path)
    for split in SPLITS:
        pngs = sorted((root / "annotations" / split).glob("*.png"))
        if pngs:
            combined = hashlib.sha256()
            for png in pngs:
                combined.update(f"{png.name} {_sha256(png)}\n".encode())
            digests[f"annotations/{split}/*.png"] = combined.hexdigest()
    return digests


def verify_shapes(root: str | os.PathLike) -> dict:
    """Check a generated folder against its manifest: the annotation digests and the
    number of images per split.

    Returns:
        The manifest.

    Raises:
        LabError: naming what differs, when a file was changed, removed or added.
    """
    root = Path(root)
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.is_file():
        raise LabError(
            f"{root} has no {MANIFEST_NAME}: it is not a generated shapes data set. "
            f"Generate one with `lab data shapes` or ensure_shapes()."
        )
    manifest = read_json(manifest_path, what="Synthetic data manifest")
    expected, actual = manifest["annotations_sha256"], annotation_digests(root)
    problems = [
        f"{name} {'is missing' if name not in actual else 'was modified'}"
        for name in sorted(expected)
        if actual.get(name) != expected[name]
    ]
    problems += [f"{name} was added" for name in sorted(set(actual) - set(expected))]
    for split in SPLITS:
        folder = {"cls": split, "seg": f"images/{split}"}.get(manifest["task"], split)
        found = sum(1 for _ in (root / folder).rglob("*.jpg"))
        if found != manifest[f"num_{split}"]:
            problems.append(f"{folder}/ holds {found} images, not {manifest[f'num_{split}']}")
    if problems:
        raise LabError(
            f"The shapes data set in {root} differs from its manifest: {'; '.join(problems)}. "
            f"Delete the folder; ensure_shapes() generates it again."
        )
    return manifest


def _manifest(root: Path, task: str, settings: dict) -> dict:
    """The manifest: arguments, classes, and the digests of the annotation files."""
    return {
        "generator": "shapes",
        "task": task,
        **settings,
        "classes": list(SHAPE_CLASSES),
        "annotations_sha256": annotation_digests(root),
    }
