"""Speed figures: generating the default demo world, then the median time of each query kind.

Run with ``uv run python benchmarks/perf.py [--repeat N] [--keep PATH]``. To add a measurement,
append a :class:`Measurement` to the list built in :func:`measurements`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.scenarios import generate_scenario
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

# a user-defined ratio metric (mai.toml), computed from the events rather than the rollups
CART_CONVERSION = """
[metrics.cart_conversion]
numerator = {event_type = "purchase"}
denominator = {event_type = "add_to_cart"}
per = "user"
"""


@dataclass
class Measurement:
    name: str
    run: Callable[[], Any]
    repeat: int | None = None  # None: the command line's --repeat


def measurements(wh: Warehouse) -> list[Measurement]:
    end = wh.schema.end_date
    cur = (end - timedelta(days=13), end)
    base = (cur[0] - timedelta(days=28), cur[0] - timedelta(days=1))
    dims = [d.name for d in wh.schema.dimensions if d.name != "event_type"]
    first = wh.schema.dimensions[0]
    seg = {first.name: first.values[0]}
    cohort_end = end - timedelta(days=28)
    return [
        Measurement("series dau", lambda: q.metric_series(wh, "dau")),
        Measurement("series dau by 2 dims", lambda: q.metric_series(wh, "dau", group_by=dims[:2])),
        Measurement(
            "series events_per_user filtered",
            lambda: q.metric_series(wh, "events_per_user", filters=seg),
        ),
        Measurement("series sessions_per_user", lambda: q.metric_series(wh, "sessions_per_user")),
        Measurement("series wau", lambda: q.metric_series(wh, "wau")),
        Measurement(
            "series dau by event_type (raw events)",
            lambda: q.metric_series(wh, "dau", start=base[0], group_by=["event_type"]),
        ),
        Measurement(
            "breakdown dau, 1 dim",
            lambda: q.breakdown(wh, "dau", dims[:1], baseline=base, current=cur),
        ),
        Measurement(
            "breakdown dau, 3 dims",
            lambda: q.breakdown(wh, "dau", dims[:3], baseline=base, current=cur),
        ),
        Measurement(
            "breakdown dau, 5 dims",
            lambda: q.breakdown(wh, "dau", dims[:5], baseline=base, current=cur),
        ),
        Measurement(
            "breakdown events_per_user, 2 dims",
            lambda: q.breakdown(wh, "events_per_user", dims[:2], baseline=base, current=cur),
        ),
        Measurement(
            "breakdown events by event_type (raw events)",
            lambda: q.breakdown(wh, "events", ["event_type"], baseline=base, current=cur),
        ),
        Measurement(
            "series cart_conversion (user-defined ratio)",
            lambda: q.metric_series(wh, "cart_conversion"),
        ),
        Measurement(
            "breakdown cart_conversion, 2 dims",
            lambda: q.breakdown(wh, "cart_conversion", dims[:2], baseline=base, current=cur),
        ),
        Measurement(
            "segment daily values",
            lambda: q.segment_daily_values(wh, "dau", start=base[0], end=base[1], filters=seg),
        ),
        Measurement("deployments", lambda: q.deployments(wh, start=base[0], end=cur[1])),
        Measurement("annotations", lambda: q.annotations(wh, start=base[0], end=cur[1])),
        Measurement(
            "retention (8 weekly cohorts)",
            lambda: q.retention(
                wh, cohort_start=cohort_end - timedelta(days=55), cohort_end=cohort_end
            ),
        ),
    ]


def investigation_e2e(wh: Warehouse) -> Measurement:
    """An autopilot investigation of the default question on the default demo, end to end."""
    import asyncio

    from metric_anomaly_investigator.core.orchestrator import Orchestrator
    from metric_anomaly_investigator.warehouse.scenarios import get_scenario

    question = get_scenario("seed_android_india").questions["clear"][0]

    async def investigate() -> None:
        orchestrator = Orchestrator(wh, model="autopilot")
        async for _event in orchestrator.investigate(question):
            pass
        assert orchestrator.record is not None and orchestrator.record.status == "completed"

    return Measurement("investigation_e2e", lambda: asyncio.run(investigate()), repeat=3)


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="write the demo world here instead of a temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "demo.duckdb"
        t0 = time.perf_counter()
        generate_scenario("seed_android_india", path)
        print(f"generate default world (seed_android_india): {time.perf_counter() - t0:6.2f} s")
        config = Path(tmp) / "metrics.toml"
        config.write_text(CART_CONVERSION)
        t0 = time.perf_counter()
        with open_warehouse(path, config=config) as wh:
            print(f"open + discover schema:                      {time.perf_counter() - t0:6.2f} s")
            print(
                f"events: {wh.schema.row_count:,}  "
                f"days: {wh.schema.start_date}..{wh.schema.end_date}"
            )
            for m in [*measurements(wh), investigation_e2e(wh)]:
                ms = median_ms(m.run, m.repeat or args.repeat)
                print(f"{m.name:<45} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
