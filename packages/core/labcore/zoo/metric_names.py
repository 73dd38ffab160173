"""The metrics other projects publish and the OpenLab metric keys they correspond to.

Imported zoo entries carry the upstream's published metrics under the upstream's names
(torchvision's weights enums' ``_metrics``, the ``Results`` of OpenMMLab's metafiles).
``lab test`` reports OpenLab's keys (``accuracy/top1``, ``coco/bbox_mAP``, ...) as
fractions in [0, 1], while torchvision, MMPretrain, MMDetection and MMSegmentation publish
percentages and MMPose fractions. :data:`UPSTREAM_METRICS` is the one table that says,
for each upstream name, which OpenLab key measures the same thing and on which scale the
upstream states it; a name that is not in the table has no known counterpart, and
nothing guesses one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Counterpart:
    """What an upstream metric corresponds to in OpenLab.

    Attributes:
        key: the metric key ``lab test`` reports for it, or None when OpenLab measures
            nothing comparable (``reason`` says why).
        scale: published value = ``scale`` x OpenLab's value (100: published in percent).
        unit: the unit of the published value, as shown next to it ('' when unknown).
        reason: why there is no counterpart (with ``key`` None).
    """

    key: str | None
    scale: float = 100.0
    unit: str = "%"
    reason: str = ""


_SINGLE_SCALE_ONLY = (
    "measured with multi-scale and flipped test inputs; lab test evaluates the config's "
    "single-scale test pipeline"
)

UPSTREAM_METRICS: dict[str, Counterpart] = {
    # torchvision: `weights.meta["_metrics"][dataset]`, in percent
    "acc@1": Counterpart("accuracy/top1"),
    "acc@5": Counterpart("accuracy/top5"),
    "box_map": Counterpart("coco/bbox_mAP"),
    "mask_map": Counterpart("coco/segm_mAP"),
    "kp_map": Counterpart("coco/keypoints_mAP"),
    "miou": Counterpart("seg/mIoU"),
    "pixel_acc": Counterpart("seg/aAcc"),
    # MMPretrain metafiles: Results.Metrics, in percent
    "Top 1 Accuracy": Counterpart("accuracy/top1"),
    "Top 5 Accuracy": Counterpart("accuracy/top5"),
    # MMDetection metafiles, in percent (COCO AP at IoU 0.50:0.95)
    "box AP": Counterpart("coco/bbox_mAP"),
    "mask AP": Counterpart("coco/segm_mAP"),
    # MMSegmentation metafiles, in percent
    "mIoU": Counterpart("seg/mIoU"),
    "mIoU(ms+flip)": Counterpart(None, reason=_SINGLE_SCALE_ONLY),
    # MMPose metafiles (COCO keypoints): fractions, unlike the other OpenMMLab projects
    "AP": Counterpart("coco/keypoints_mAP", scale=1.0, unit="fraction"),
    "AP@0.5": Counterpart("coco/keypoints_mAP_50", scale=1.0, unit="fraction"),
    "AP@0.75": Counterpart("coco/keypoints_mAP_75", scale=1.0, unit="fraction"),
    "AR": Counterpart("coco/keypoints_AR", scale=1.0, unit="fraction"),
    "AR@0.5": Counterpart("coco/keypoints_AR_50", scale=1.0, unit="fraction"),
}


def scale_mismatch(value: float, found: Counterpart) -> str:
    """Why a published ``value`` cannot be on the scale of ``found`` ('' when it can): a
    percentage of a published model lies in (1, 100], a fraction in [0, 1]."""
    if found.unit == "%" and not 1 < value <= 100:
        return f"{value:g} does not look like a percentage"
    if found.unit == "fraction" and not 0 <= value <= 1:
        return f"{value:g} is not a fraction in [0, 1]"
    return ""


def counterpart(name: str) -> Counterpart:
    """The OpenLab counterpart of the upstream metric ``name`` (a Counterpart with key None
    and the reason when there is none)."""
    found = UPSTREAM_METRICS.get(name)
    if found is not None:
        return found
    return Counterpart(
        None,
        scale=1.0,
        unit="",  # not known either: the value is shown as published
        reason=(
            "no OpenLab metric is known to measure it "
            "(labcore.zoo.metric_names.UPSTREAM_METRICS lists the known names)"
        ),
    )
