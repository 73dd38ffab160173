"""labrot's declaration as an OpenLab codebase (entry point ``openlab.codebases``)."""

from labcore.codebase import Codebase

CODEBASE = Codebase(
    name="labrot",
    apis="labrot.apis",
    description="rotated (oriented) object detection, built on labdet",
    display_options=("score_thr",),
)
