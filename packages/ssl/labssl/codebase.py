"""labssl's declaration of the codebase interface (see :mod:`labcore.codebase`)."""

from labcore.codebase import Codebase

CODEBASE = Codebase(
    name="labssl",
    apis="labssl.apis",
    description="self-supervised pretraining (MoCo v2, SimCLR, BYOL, MAE), linear probe, k-NN",
)
