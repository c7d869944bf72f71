"""Change points of a short series: the exact penalised least-squares segmentation.

The segmentation ruptures computes with ``KernelCPD(kernel="linear").predict(pen=…)`` (each
segment costs its sum of squared deviations from its mean, each segment adds ``pen``), solved
exactly by dynamic programming over every split (ruptures' pruned search agrees, except in rare
cases where it stops at a costlier segmentation). A metric's daily series has at most a few
hundred points, so the quadratic search takes milliseconds. Computed here because importing
ruptures imports all of scipy.stats and scipy.spatial, about a second of every run's start-up;
the tests check it against ruptures.
"""

from __future__ import annotations

import numpy as np

__all__ = ["change_points"]


def change_points(x: np.ndarray, pen: float, min_size: int = 2) -> list[int]:
    """The indices where a new segment starts, minimising squared error + ``pen`` per change.

    Every segment has at least ``min_size`` points; a series too short to split has none.
    """
    y = np.asarray(x, dtype=float).ravel()
    n = len(y)
    if n < 2 * min_size:
        return []
    y = y - np.mean(y)  # the costs do not change; the sums stay small
    s1 = np.concatenate([[0.0], np.cumsum(y)])
    s2 = np.concatenate([[0.0], np.cumsum(y * y)])
    best = np.full(n + 1, np.inf)
    best[0] = -pen  # the first segment is not a change
    start = np.zeros(n + 1, dtype=int)
    for t in range(min_size, n + 1):
        s = np.arange(0, t - min_size + 1)
        s = s[np.isfinite(best[s])]
        length = t - s
        cost = (s2[t] - s2[s]) - (s1[t] - s1[s]) ** 2 / length
        total = best[s] + np.maximum(cost, 0.0) + pen
        k = int(np.argmin(total))
        best[t], start[t] = total[k], s[k]
    breaks: list[int] = []
    t = n
    while t > 0:
        t = int(start[t])
        if t > 0:
            breaks.append(t)
    return breaks[::-1]
