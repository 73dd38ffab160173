"""labdet's declaration for ``openlab.codebases`` (see labcore.codebase)."""

from labcore.codebase import Codebase

CODEBASE = Codebase(
    name="labdet",
    apis="labdet.apis",
    description="object detection and instance segmentation",
    display_options=("score_thr",),
)
