"""Scale figures: worlds of 10 M, 30 M and 100 M events, as a DuckDB file and a Parquet directory.

Run with ``uv run python benchmarks/scale.py [--sizes 10,30,100] [--dir DIR]``. Worlds are the
default demo story (``seed_android_india``) with more users, generated once into ``DIR`` (by
default the user cache directory, never the repository) and reused. Each figure comes from a
fresh child process, so its wall time and peak memory (``ru_maxrss``) are its own:

- generation: seconds and peak RSS;
- for the DuckDB file and the Parquet directory: the first open with an empty rollup cache
  (cold), the second open (warm), the investigation (the autopilot on the default question),
  peak RSS, and the floor: DuckDB's own group-by scan of the same events (DAU by day x
  platform), with the ratio of cold open + investigation to it;
- the answer at each size (anomaly dates, root-cause segment, deployment), to compare with the
  default demo's (7.3 M events);
- the default demo: ``mai investigate`` cold (a new process, warehouse present) and its imports.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

EVENTS_PER_USER = 145.6  # seed_android_india: 7.28 M events for 50,000 users
SCENARIO = "seed_android_india"
TABLES = ("events", "users", "deployments", "annotations")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- child processes: each prints one JSON line -------------------------------------------------
def child_generate(out: Path, users: int) -> dict[str, Any]:
    from metric_anomaly_investigator.warehouse.scenarios import generate_scenario

    t0 = time.perf_counter()
    generate_scenario(SCENARIO, out, users=users)
    seconds = time.perf_counter() - t0
    import duckdb

    con = duckdb.connect(str(out), read_only=True)
    row = con.execute("SELECT count(*) FROM events").fetchone()
    con.close()
    return {"seconds": seconds, "rss_mb": _peak_mb(), "events": row[0] if row else 0}


def child_investigate(source: str) -> dict[str, Any]:
    import asyncio

    from metric_anomaly_investigator.core.orchestrator import Orchestrator
    from metric_anomaly_investigator.warehouse.connect import open_warehouse
    from metric_anomaly_investigator.warehouse.scenarios import get_scenario

    question = get_scenario(SCENARIO).questions["clear"][0]
    t0 = time.perf_counter()
    wh = open_warehouse(source)
    opened = time.perf_counter() - t0

    async def investigate() -> Any:
        orchestrator = Orchestrator(wh, model="autopilot")
        async for _event in orchestrator.investigate(question):
            pass
        return orchestrator.record

    t0 = time.perf_counter()
    record = asyncio.run(investigate())
    ran = time.perf_counter() - t0
    wh.close()
    report = record.report if record is not None else None
    answer: dict[str, Any] = {
        "status": record.status if record is not None else None,
        "error": record.error if record is not None else None,
    }
    if report is not None:
        answer |= {
            "anomaly": f"{report.anomaly.direction} {report.anomaly.start}..{report.anomaly.end}",
            "segments": [s.filters for s in report.affected_segments if s.confidence >= 0.5],
            "deployments": [
                e.id
                for e in report.correlated_events
                if e.kind == "deployment" and e.confidence >= 0.5
            ],
        }
    return {"open_s": opened, "investigate_s": ran, "rss_mb": _peak_mb(), "answer": answer}


def child_floor(source: str) -> dict[str, Any]:
    """DuckDB's own scan (default settings): DAU by day x platform over the raw events."""
    import duckdb

    path = Path(source)
    if path.is_dir():
        con = duckdb.connect()
        events = f"read_parquet('{path / 'events.parquet'}')"
    else:
        con = duckdb.connect(str(path), read_only=True)
        events = "events"
    t0 = time.perf_counter()
    con.execute(
        f"SELECT event_timestamp::DATE AS day, platform, count(DISTINCT user_id) "
        f"FROM {events} GROUP BY ALL"
    ).fetchall()
    seconds = time.perf_counter() - t0
    con.close()
    return {"seconds": seconds, "rss_mb": _peak_mb()}


# -- the parent ---------------------------------------------------------------------------------
def run_child(kind: str, *args: str, data_dir: Path) -> dict[str, Any]:
    env = {**os.environ, "MAI_DATA_DIR": str(data_dir)}
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"child {kind} failed:\n{out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - t0
    return result


def export_parquet(world: Path, out: Path) -> None:
    import duckdb

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    con = duckdb.connect(str(world), read_only=True)
    try:
        for table in TABLES:
            con.execute(f"COPY {table} TO '{tmp / (table + '.parquet')}' (FORMAT parquet)")
    finally:
        con.close()
    tmp.rename(out)


def answer_text(answer: dict[str, Any]) -> str:
    if answer.get("anomaly") is None:
        return f"no report ({answer.get('status')}: {answer.get('error')})"
    segs = "; ".join(
        ", ".join(f"{k}={v}" for k, v in sorted(s.items())) for s in answer.get("segments", [])
    )
    deps = ", ".join(answer.get("deployments", [])) or "none"
    return f"{answer.get('anomaly')} | root cause: {segs or 'none'} | deployment: {deps}"


def measure_source(label: str, source: Path, data_dir: Path) -> dict[str, Any]:
    shutil.rmtree(data_dir / "cache", ignore_errors=True)
    cold = run_child("investigate", str(source), data_dir=data_dir)
    warm = run_child("investigate", str(source), data_dir=data_dir)
    floor = run_child("floor", str(source), data_dir=data_dir)
    cold_total = cold["open_s"] + cold["investigate_s"]
    warm_total = warm["open_s"] + warm["investigate_s"]
    print(
        f"  {label:<8} cold: open {cold['open_s']:6.1f} s + investigation "
        f"{cold['investigate_s']:5.1f} s = {cold_total:6.1f} s (process {cold['wall_s']:5.1f} s, "
        f"peak {cold['rss_mb'] / 1024:4.2f} GB)"
    )
    print(
        f"  {'':<8} warm: open {warm['open_s']:6.1f} s + investigation "
        f"{warm['investigate_s']:5.1f} s = {warm_total:6.1f} s (process {warm['wall_s']:5.1f} s, "
        f"peak {warm['rss_mb'] / 1024:4.2f} GB)"
    )
    print(
        f"  {'':<8} floor (DuckDB DAU by day x platform): {floor['seconds']:5.1f} s "
        f"(peak {floor['rss_mb'] / 1024:4.2f} GB); cold / floor = "
        f"{cold_total / max(floor['seconds'], 1e-9):4.1f}x"
    )
    print(f"  {'':<8} answer: {answer_text(cold['answer'])}")
    return cold["answer"]


def demo_figures(data_dir: Path) -> dict[str, Any]:
    """Cold ``mai investigate`` on the default demo (the warehouse exists) and its imports."""
    from metric_anomaly_investigator.warehouse.scenarios import get_scenario

    question = get_scenario(SCENARIO).questions["clear"][0]
    cmd = [sys.executable, "-m", "metric_anomaly_investigator", "investigate", question, "-q"]
    # As on a user's machine: the first run writes the bytecode cache of our own modules (the
    # installed packages are compiled by `uv sync`), later runs read it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["MAI_DATA_DIR"] = str(data_dir)
    subprocess.run(cmd, env=env, capture_output=True, check=True)  # builds the demo if absent
    walls = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        walls.append(time.perf_counter() - t0)
    traced = subprocess.run(
        [sys.executable, "-X", "importtime", *cmd[1:]],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    top: dict[str, float] = {}
    for line in traced.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if m:  # no indentation before the name: imported at the top level
            top[m.group(2)] = int(m.group(1)) / 1e6
    heavy = sorted(top.items(), key=lambda kv: -kv[1])[:6]
    answer = run_child("investigate", str(data_dir / "demo.duckdb"), data_dir=data_dir)["answer"]
    return {
        "wall": statistics.median(walls),
        "imports": sum(top.values()),
        "heavy": heavy,
        "answer": answer,
    }


def default_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("metric-anomaly-investigator")) / "scale-worlds"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,30,100", help="millions of events, e.g. 10,30")
    parser.add_argument("--dir", type=Path, default=None, help="where worlds are kept")
    parser.add_argument("--no-demo", action="store_true", help="skip the default-demo figures")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "generate":
            result = child_generate(Path(rest[0]), int(rest[1]))
        elif kind == "investigate":
            result = child_investigate(rest[0])
        else:
            result = child_floor(rest[0])
        print(json.dumps(result, default=str))
        return
    root = (args.dir or default_dir()).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    print(f"worlds in {root}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}")
    reference: dict[str, Any] | None = None
    if not args.no_demo:
        demo = demo_figures(root / "demo")
        reference = demo["answer"]
        heavy = ", ".join(f"{name} {s:.2f}" for name, s in demo["heavy"])
        print(
            f"default demo (7.3 M events): mai investigate cold {demo['wall']:.2f} s; "
            f"imports {demo['imports']:.2f} s ({heavy})"
        )
        print(f"  answer: {answer_text(reference)}")
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        users = round(size * 1_000_000 / EVENTS_PER_USER)
        world = root / f"{SCENARIO}_{size}M.duckdb"
        parquet = root / f"{SCENARIO}_{size}M_parquet"
        print(f"\n{size} M events ({users:,} users)")
        if world.exists():
            print(f"  generation: reusing {world.name}")
        else:
            gen = run_child("generate", str(world), str(users), data_dir=root / "gen")
            print(
                f"  generation: {gen['seconds']:6.1f} s, {gen['events']:,} events, "
                f"peak {gen['rss_mb'] / 1024:4.2f} GB"
            )
        if not parquet.exists():
            export_parquet(world, parquet)
        answers = [
            measure_source("duckdb", world, root / f"data_{size}M_duckdb"),
            measure_source("parquet", parquet, root / f"data_{size}M_parquet"),
        ]
        if reference is not None:
            same = all(answer_text(a) == answer_text(reference) for a in answers)
            print(f"  same answer as the default demo: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
