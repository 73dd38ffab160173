"""Write ``model_zoo/imported-torchvision.yml`` from torchvision's installed weights enums,
and ``model_zoo/imported-openmmlab*.yml`` from the model-index metafiles of OpenMMLab's
distributions (MMPretrain, MMDetection, MMSegmentation, MMPose).

    python model_zoo/generate_imported.py            # or: nox -s zoo -- generate
    python model_zoo/generate_imported.py --check    # fail when the file is stale
    pip download --no-deps mmpretrain==1.2.0 mmdet==3.3.0 mmsegmentation==1.2.2 \
        mmpose==1.3.2 -d /tmp/mm
    python model_zoo/generate_imported.py --openmmlab /tmp/mm/mmpretrain-1.2.0-py2.py3-none-any.whl \
        --openmmlab /tmp/mm/mmdet-3.3.0-py3-none-any.whl ...   # [--check]

Options: ``--output PATH`` (the torchvision manifest, default
``model_zoo/imported-torchvision.yml``); ``--check`` (write nothing, exit 1 when a manifest
differs from what would be written); ``--openmmlab DIST`` (repeatable: a wheel or sdist of
mmpretrain, mmdet, mmsegmentation or mmpose; writes, or checks, that package's manifest
instead of torchvision's); ``--mmpretrain-wheel WHEEL`` (the same as ``--openmmlab``).

For every torchvision architecture that an OpenLab config builds layer for layer (the
table below), each published weights enum member becomes one ``kind: imported`` entry:
its URL and the sha256 prefix in the file name, the published metrics (``_metrics``) on
their dataset, the parameter count (``num_params``), the licence, the OpenLab config and
the converter that maps its keys. Classification weights evaluated at another crop than
224 (the SWAG end-to-end ViT weights at 384) need a config OpenLab does not ship and are
left out. Nothing is downloaded: the enums hold all of it.

From an OpenMMLab distribution (read as a zip or tar archive, never imported or
installed), every ``Models`` entry of the metafiles its ``model-index.yml`` imports
becomes an entry when its ``Config`` file name is also a config of the matching codebase
(labcls, labdet and labseg keep the anchors' config names), it publishes results on the
dataset that config is for (ImageNet-1k top-1/top-5; COCO box / mask AP; ADE20K,
Cityscapes or Pascal VOC 2012 + Aug mIoU; COCO keypoint AP) and its ``Weights`` file name carries the hash
prefix (``NAME-<sha256[:8]>.pth``). MMPretrain's entries go to ``imported-openmmlab.yml``
(its ``Parameters`` are often rounded to a few digits); the others to
``imported-openmmlab-<package>.yml``, with the parameter count of the built config (their
metafiles publish none). Detection takes Faster, Mask and Cascade (Mask) R-CNN; the
families :data:`PACKAGES` leaves out are printed with the reason. MMPose's weights go to
``imported-openmmlab-mmpose.yml``: SimpleBaseline and HRNet top-down heatmap models on COCO
keypoints (the configs labpose ships under MMPose's names), their file names carrying a
date after the hash (``NAME-<sha256[:8]>_<YYYYMMDD>.pth``), their link the results README
beside the metafile; a model whose metafile lists another model's weights file is left out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imported_openmmlab import (
    Distribution,
    config_parameters,
    openmmlab_entries,
    openmmlab_header,
    openmmlab_output,
)
from imported_torchvision import HEADER, OUTPUT, entries

from labcore.zoo.digests import recorded_digests
from labcore.zoo.manifest import Manifest, write_manifest

__all__ = [
    "config_parameters", "entries", "main", "openmmlab_entries", "openmmlab_output",
    "with_recorded_digests",
]  # fmt: skip


def _is_current(manifest: Manifest, path: Path, how: str) -> bool:
    """Whether ``path`` holds ``manifest`` (a missing file holds no entries); ``how`` says
    how to regenerate it."""
    from labcore.zoo.manifest import read_manifest

    current = read_manifest(path) if path.is_file() else Manifest()
    if current.models != manifest.models:
        print(f"{path} is stale: {how}", file=sys.stderr)
        return False
    print(f"{path} is up to date ({len(manifest.models)} entries)")
    return True


def with_recorded_digests(manifest: Manifest, output: Path) -> Manifest:
    """``manifest`` with the full digests and sizes that ``lab zoo record-digests`` wrote
    into ``output`` kept, for the entries whose URL is unchanged."""
    recorded = recorded_digests(output)
    models = []
    for entry in manifest.models:
        known = recorded.get(entry.weights.url)
        if known is not None:
            entry = entry.model_copy(update={"weights": entry.weights.model_copy(update=known)})
        models.append(entry)
    return manifest.model_copy(update={"models": models})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail when a file is stale")
    parser.add_argument(
        "--openmmlab",
        type=Path,
        action="append",
        default=[],
        metavar="DIST",
        help="an OpenMMLab wheel or sdist (mmpretrain, mmdet, mmsegmentation, mmpose): write "
        "(or, with --check, check) its model_zoo/imported-openmmlab*.yml instead; repeatable",
    )
    parser.add_argument(
        "--mmpretrain-wheel", type=Path, help="the same as --openmmlab with an mmpretrain wheel"
    )
    args = parser.parse_args(argv)
    distributions = args.openmmlab + ([args.mmpretrain_wheel] if args.mmpretrain_wheel else [])
    if distributions:
        current = True
        for path in distributions:
            output = openmmlab_output(Distribution(path).package)
            manifest = with_recorded_digests(Manifest(models=openmmlab_entries(path)), output)
            if args.check:
                how = f"run model_zoo/generate_imported.py --openmmlab {path}"
                current &= _is_current(manifest, output, how)
            elif not manifest.models:
                print(f"{path.name}: no model fits an OpenLab config; nothing written")
            else:
                write_manifest(manifest, output, openmmlab_header(path))
                print(f"wrote {len(manifest.models)} entries to {output}")
        return 0 if current else 1
    manifest = with_recorded_digests(Manifest(models=entries()), args.output)
    if args.check:
        return 0 if _is_current(manifest, args.output, "run `nox -s zoo -- generate`") else 1
    write_manifest(manifest, args.output, HEADER)
    print(f"wrote {len(manifest.models)} entries to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
