"""labseg's declaration as an OpenLab codebase (entry point ``openlab.codebases``)."""

from labcore.codebase import Codebase

CODEBASE = Codebase(name="labseg", apis="labseg.apis", description="semantic segmentation")
