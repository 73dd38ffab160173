"""Statistics over seeds against scipy's own interval and an explicit Welch formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from labbench.stats import summarize_seeds, welch_test


def test_mean_std_and_t_interval_match_scipy():
    values = [0.71, 0.74, 0.69, 0.73]
    summary = summarize_seeds(values)
    low, high = scipy_stats.t.interval(
        0.95, len(values) - 1, loc=np.mean(values), scale=scipy_stats.sem(values)
    )
    assert summary["mean"] == pytest.approx(np.mean(values))
    assert summary["std"] == pytest.approx(np.std(values, ddof=1))
    assert summary["ci95"] == pytest.approx((high - low) / 2)
    assert summary["n"] == 4


def test_one_seed_has_no_spread():
    assert summarize_seeds([0.5]) == {"mean": 0.5, "std": None, "ci95": None, "n": 1}
    assert summarize_seeds([])["mean"] is None


def test_welch_p_value_matches_the_formula():
    a, b = [0.80, 0.82, 0.81], [0.70, 0.75, 0.72, 0.71]
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    t = (np.mean(a) - np.mean(b)) / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    expected = 2 * scipy_stats.t.sf(abs(t), dof)
    assert welch_test(a, b) == pytest.approx(expected)
    assert welch_test([0.8], b) is None
