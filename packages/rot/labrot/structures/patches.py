"""Names of image patches: where a patch of ``lab data split-dota`` lies in its image.

A patch is named ``<image>__<rate>__<x>___<y>``: the image's name (stem), the rate the
image was rescaled by before it was cut (``1.0``, ``0.5``, ``1.5``), and the patch's top
left corner in the rescaled image's pixels, e.g. ``P0001__0.5__824___0``. DOTA's devkit
writes the same pattern; MMRotate's splitter puts the window size where the rate is
(``P0001__1024__824___0``), which this name would read as rate 1024.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from labcore.errors import LabError

_PATTERN = re.compile(r"^(?P<image>.+)__(?P<rate>\d+(?:\.\d+)?)__(?P<x>\d+)___(?P<y>\d+)$")


class PatchName(NamedTuple):
    """Where a patch lies: ``(image, rate, x, y)``; a full-image point ``p`` is at
    ``p * rate - (x, y)`` in the patch."""

    image: str
    rate: float
    x: int
    y: int

    def __str__(self) -> str:
        return f"{self.image}__{float(self.rate)!r}__{self.x}___{self.y}"

    @classmethod
    def parse(cls, name: str) -> PatchName:
        """The parts of a patch name; a name of another form raises a LabError."""
        match = _PATTERN.match(name)
        if match is None:
            raise LabError(
                f"{name!r} is not the name of an image patch, '<image>__<rate>__<x>___<y>' "
                f"(e.g. 'P0001__1.0__824___0', as `lab data split-dota` writes them); "
                f"merge only the results of split images."
            )
        return cls(match["image"], float(match["rate"]), int(match["x"]), int(match["y"]))
