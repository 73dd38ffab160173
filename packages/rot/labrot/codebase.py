"""labrot's declaration as an OpenLab codebase (entry point ``openlab.codebases``)."""

from labcore.codebase import Codebase, DataCommand

CODEBASE = Codebase(
    name="labrot",
    apis="labrot.apis",
    description="rotated (oriented) object detection, built on labdet",
    display_options=("score_thr",),
    data_commands=(
        DataCommand(
            name="split-dota",
            module="labrot.cli.split_dota",
            help="cut large DOTA images into patches (MMRotate's ss/ms splits)",
        ),
        DataCommand(
            name="merge-dota",
            module="labrot.cli.merge_dota",
            help="merge DOTA Task1 result files of patches into full-image ones",
        ),
    ),
)
