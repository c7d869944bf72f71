"""When a claimed segment is the true one: the same filters, or the same rows."""

from __future__ import annotations

from datetime import date

from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.scenarios import GroundTruth
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

CLAIM = 0.5  # a segment or event with at least this confidence is claimed
ROW_MATCH = 0.8  # two segments are equivalent when their rows overlap this much (Jaccard)


def norm(filters: dict[str, str]) -> dict[str, str]:
    return {k: str(v).lower() for k, v in filters.items()}


def _events(wh: Warehouse, filters: dict[str, str], window: tuple[date, date]) -> float:
    """Rows matching ``filters`` (values compared case-insensitively) in ``window``."""
    real: dict[str, str] = {}
    for k, v in filters.items():
        if k not in wh.schema.dimension_names:
            return 0.0
        values = {x.lower(): x for x in wh.schema.dimension(k).values}
        real[k] = values.get(str(v).lower(), str(v))
    # rows: events, or on a pre-aggregated table (no events) its first additive measure
    additive = [m for m in wh.schema.metrics if not wh.schema.is_ratio(m)]
    size = "events" if "events" in wh.schema.metrics or not additive else additive[0]
    series = q.metric_series(wh, size, start=window[0], end=window[1], filters=real or None)
    return float(sum(series.values()))


def row_jaccard(
    wh: Warehouse, a: dict[str, str], b: dict[str, str], window: tuple[date, date]
) -> float:
    """Overlap of the rows two segments select in the window (1 = the same rows)."""
    na, nb = norm(a), norm(b)
    if any(k in nb and nb[k] != v for k, v in na.items()):
        both = 0.0
    else:
        both = _events(wh, {**a, **b}, window)
    size_a, size_b = _events(wh, a, window), _events(wh, b, window)
    union = size_a + size_b - both
    return both / union if union > 0 else 0.0


def exactly_equal(claimed: list[dict[str, str]], truth: list[dict[str, str]]) -> bool:
    """The same set of filter dicts, values compared case-insensitively."""
    got = sorted(sorted(norm(c).items()) for c in claimed)
    want = sorted(sorted(norm(t).items()) for t in truth)
    return got == want


def segments_equivalent(
    wh: Warehouse,
    claimed: list[dict[str, str]],
    truth: list[dict[str, str]],
    window: tuple[date, date],
) -> tuple[bool, str]:
    """Same set of filter dicts (case-insensitive), or each side matched by rows on the other."""
    if exactly_equal(claimed, truth):
        return True, "exact"
    if not claimed or not truth:
        return False, f"claimed {claimed or 'nothing'}, truth {truth or 'nothing'}"

    def matched(x: dict[str, str], others: list[dict[str, str]]) -> bool:
        return any(row_jaccard(wh, x, o, window) >= ROW_MATCH for o in others)

    ok = all(matched(t, claimed) for t in truth) and all(matched(c, truth) for c in claimed)
    return ok, ("same rows" if ok else f"claimed {claimed}, truth {truth}")


def truth_window(truth: GroundTruth, wh: Warehouse) -> tuple[date, date]:
    start = truth.start or wh.schema.start_date
    end = truth.end or wh.schema.end_date
    return max(start, wh.schema.start_date), min(end, wh.schema.end_date)
