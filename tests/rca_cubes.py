"""Leaf cubes for the tests of ``core.rca``: one row per combination of dimension values."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from metric_anomaly_investigator.core.rca import LocalizationResult

DIMS = ["a", "b", "c"]


def grid(dims: Sequence[str] = DIMS, sizes: Sequence[int] = (4, 5, 6)) -> pd.DataFrame:
    """Every combination of the values ``a0 … a3``, ``b0 … b4``… (``sizes`` values each)."""
    values = [[f"{d}{i}" for i in range(n)] for d, n in zip(dims, sizes, strict=True)]
    return pd.DataFrame(list(itertools.product(*values)), columns=list(dims))


def plant(df: pd.DataFrame, filters: dict[str, str], factor: float) -> pd.DataFrame:
    """Scale the element's leaves' ``actual`` by ``factor`` (their own jitter kept)."""
    out = df.copy()
    mask = np.logical_and.reduce([out[k] == v for k, v in filters.items()])
    out.loc[mask, "actual"] = out.loc[mask, "actual"] * factor
    return out


def finite(result: LocalizationResult) -> bool:
    """Whether every number of the result and its elements and candidates is finite."""
    nums = [result.total_expected, result.total_actual, result.explained_share]
    for e in result.elements + result.candidates:
        nums += [e.expected, e.actual, e.share_of_change, e.score]
        nums += [] if e.change_pct is None else [e.change_pct]
    return all(math.isfinite(v) for v in nums)
