"""Textured backgrounds and colours for the synthetic shapes.

Backgrounds are drawn from four families (smooth noise, linear gradients, soft stripes,
checkerboards), each in two colours that differ moderately, so a detector cannot find
shapes by looking for any edge at all. Everything here is a pure function of the
numpy Generator it is given.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

BACKGROUND_KINDS: tuple[str, ...] = ("noise", "gradient", "stripes", "checker")


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour, ndarray[3] float64 in [0, 255]."""
    return rng.uniform(0.0, 255.0, size=3)


def contrasting_colour(
    rng: np.random.Generator, reference: np.ndarray, *, min_distance: float, tries: int = 8
) -> np.ndarray:
    """A random colour at least ``min_distance`` (RGB Euclidean) from ``reference``.

    Draws up to ``tries`` candidates and keeps the first far enough, else the farthest.
    """
    best, best_distance = None, -1.0
    for _ in range(tries):
        candidate = random_colour(rng)
        distance = float(np.linalg.norm(candidate - reference))
        if distance >= min_distance:
            return candidate
        if distance > best_distance:
            best, best_distance = candidate, distance
    return best


def _pair_of_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    first = random_colour(rng)
    second = np.clip(first + rng.uniform(-70.0, 70.0, size=3), 0.0, 255.0)
    return first, second


def _direction_coordinate(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Pixel coordinates projected on a random direction: ndarray[H, W] float64."""
    angle = rng.uniform(0.0, np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    return xs * np.cos(angle) + ys * np.sin(angle)


def _smooth_noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    cells = int(rng.integers(3, 9))
    base, other = _pair_of_colours(rng)
    weights = rng.uniform(0.0, 1.0, size=(cells, cells, 1))
    grid = (base * (1.0 - weights) + other * weights).astype(np.uint8)
    upsampled = Image.fromarray(grid).resize((width, height), Image.BILINEAR)
    return np.asarray(upsampled, dtype=np.float64)


def _gradient(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    start, end = _pair_of_colours(rng)
    t = _direction_coordinate(rng, height, width)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    return start * (1.0 - t[..., None]) + end * t[..., None]


def _stripes(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    first, second = _pair_of_colours(rng)
    period = rng.uniform(0.08, 0.3) * max(height, width)
    t = _direction_coordinate(rng, height, width)
    wave = 0.5 + 0.5 * np.sin(2.0 * np.pi * t / period + rng.uniform(0.0, 2.0 * np.pi))
    return first * (1.0 - wave[..., None]) + second * wave[..., None]


def _checker(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    first, second = _pair_of_colours(rng)
    cell = max(2, int(rng.uniform(0.06, 0.2) * max(height, width)))
    ys, xs = np.mgrid[0:height, 0:width]
    odd = ((ys // cell + xs // cell) % 2).astype(np.float64)
    return first * (1.0 - odd[..., None]) + second * odd[..., None]


_BACKGROUNDS = {
    "noise": _smooth_noise,
    "gradient": _gradient,
    "stripes": _stripes,
    "checker": _checker,
}


def random_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A textured background of a random kind from :data:`BACKGROUND_KINDS`.

    Returns:
        ndarray[H, W, 3] float64 in [0, 255].
    """
    kind = BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))]
    return _BACKGROUNDS[kind](rng, height, width)
