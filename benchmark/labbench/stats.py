"""Statistics over seeds: mean, standard deviation, confidence interval, Welch's t-test."""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats


def summarize_seeds(values: Sequence[float], confidence: float = 0.95) -> dict[str, float | None]:
    """Mean, sample standard deviation (ddof=1), the half-width of the ``confidence``
    interval of the mean from Student's t distribution with n-1 degrees of freedom, and n.

    With one value the std and interval are None (undefined, not zero).
    """
    n = len(values)
    if n == 0:
        return {"mean": None, "std": None, "ci95": None, "n": 0}
    mean = math.fsum(values) / n
    if n == 1:
        return {"mean": mean, "std": None, "ci95": None, "n": 1}
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return {"mean": mean, "std": std, "ci95": float(half), "n": n}


def welch_test(values: Sequence[float], baseline: Sequence[float]) -> float | None:
    """Two-sided p-value of Welch's t-test (unequal variances) of ``values`` against
    ``baseline``; None when either side has fewer than two values or both are constant."""
    if len(values) < 2 or len(baseline) < 2:
        return None
    result = stats.ttest_ind(values, baseline, equal_var=False)
    p = float(result.pvalue)
    return None if math.isnan(p) else p
