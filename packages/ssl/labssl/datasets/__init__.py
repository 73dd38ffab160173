"""labssl's data pieces: the multi-view transform, the pretraining augmentations and the
packing of several views. Datasets are labcls's (``ShapesDataset``, ``ImageNet``)."""

import labcls.datasets  # noqa: F401  (the datasets and PackClsInputs that labssl configs name)
from labssl.datasets.packing import PackMultiViewInputs
from labssl.datasets.transforms import (
    GaussianBlur,
    MultiView,
    RandomApply,
    RandomGrayscale,
    Solarize,
)

__all__ = [
    "GaussianBlur",
    "MultiView",
    "PackMultiViewInputs",
    "RandomApply",
    "RandomGrayscale",
    "Solarize",
]
