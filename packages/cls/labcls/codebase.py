"""labcls's declaration for ``openlab.codebases`` (see labcore.codebase)."""

from labcore.codebase import Codebase

CODEBASE = Codebase(
    name="labcls",
    apis="labcls.apis",
    description="image classification",
    display_options=("topk",),
)
