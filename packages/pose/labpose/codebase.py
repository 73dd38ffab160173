"""labpose's declaration as an OpenLab codebase (see :mod:`labcore.codebase`)."""

from labcore.codebase import Codebase

CODEBASE = Codebase(
    name="labpose",
    apis="labpose.apis",
    description="2D keypoint (pose) estimation",
    display_options=("score_thr",),
)
