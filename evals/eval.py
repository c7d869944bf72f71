"""Evals: every scenario x every question, investigated end to end, scored against ground truth.

    uv run python evals/eval.py [--model M] [--scenarios a,b] [--users N] [--cache DIR]
                                [--split tuning|held-out|all]

The *tuning* split is every scenario at its own seed: the worlds the analyst was developed on.
The *held-out* split is the same stories regenerated at seeds nobody tuned on
(:data:`HELD_OUT_SEEDS`): other users, other noise, the same planted causes. Both are run by
default and their pass rates printed apart.

Each scenario's world is generated once into the cache directory. Every case runs a full
investigation through the real :class:`Orchestrator` (autopilot unless ``--model``), and four
evaluators check the report: the anomaly (direction, start within one day), the root-cause
segments (those with confidence >= 0.5 are equivalent to the truth), the causal deployment (or
rightly none) and, on the no-anomaly scenario, no false alarm. Prints the per-case table and
the pass rate; exits 0 unless something crashed (2 on bad arguments).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pydantic_evals import Case, Dataset
from pydantic_evals.evaluators import Evaluator, EvaluatorContext
from pydantic_evals.reporting import EvaluationReport

from metric_anomaly_investigator.core.agents import ModelConfigError
from metric_anomaly_investigator.core.models import Report
from metric_anomaly_investigator.core.orchestrator import Orchestrator
from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.scenarios import (
    SCENARIOS,
    GroundTruth,
    Scenario,
    build_world,
)
from metric_anomaly_investigator.warehouse.types import WarehouseError
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

HELD_OUT_SEEDS = (7001, 7002)  # never used while tuning the analyst: keep it that way
SPLITS = ("tuning", "held-out")
CLAIM = 0.5  # a segment or event with at least this confidence is claimed
ROW_MATCH = 0.8  # two segments are equivalent when their rows overlap this much (Jaccard)


@dataclass(frozen=True)
class EvalInput:
    scenario: str
    style: str
    question: str
    world: str
    split: str = "tuning"


@dataclass
class EvalOutput:
    status: str
    report: Report | None
    error: str | None = None


# -- segment equivalence ---------------------------------------------------------------------------


def _norm(filters: dict[str, str]) -> dict[str, str]:
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
    na, nb = _norm(a), _norm(b)
    if any(k in nb and nb[k] != v for k, v in na.items()):
        both = 0.0
    else:
        both = _events(wh, {**a, **b}, window)
    size_a, size_b = _events(wh, a, window), _events(wh, b, window)
    union = size_a + size_b - both
    return both / union if union > 0 else 0.0


def segments_equivalent(
    wh: Warehouse,
    claimed: list[dict[str, str]],
    truth: list[dict[str, str]],
    window: tuple[date, date],
) -> tuple[bool, str]:
    """Same set of filter dicts (case-insensitive), or each side matched by rows on the other."""
    got = sorted(sorted(_norm(c).items()) for c in claimed)
    want = sorted(sorted(_norm(t).items()) for t in truth)
    if got == want:
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


# -- evaluators ------------------------------------------------------------------------------------


def _truth(ctx: EvaluatorContext[EvalInput, EvalOutput, GroundTruth]) -> GroundTruth:
    assert ctx.metadata is not None
    return ctx.metadata


@dataclass
class AnomalyFound(Evaluator[EvalInput, EvalOutput, GroundTruth]):
    """Direction as in the truth and, for an anomaly, the start within one day."""

    def evaluate(self, ctx: EvaluatorContext[EvalInput, EvalOutput, GroundTruth]) -> bool:
        truth, report = _truth(ctx), ctx.output.report
        if report is None:
            return False
        if report.anomaly.direction != truth.direction:
            return False
        if truth.start is None:
            return True
        start = report.anomaly.start
        return start is not None and abs((start - truth.start).days) <= 1


@dataclass
class RootCauseFound(Evaluator[EvalInput, EvalOutput, GroundTruth]):
    """The claimed segments (confidence >= 0.5) are equivalent to the true root causes."""

    def evaluate(self, ctx: EvaluatorContext[EvalInput, EvalOutput, GroundTruth]) -> bool:
        truth, report = _truth(ctx), ctx.output.report
        if report is None:
            return False
        claimed = [s.filters for s in report.affected_segments if s.confidence >= CLAIM]
        with open_warehouse(ctx.inputs.world) as wh:
            ok, _ = segments_equivalent(wh, claimed, truth.root_cause, truth_window(truth, wh))
        return ok


@dataclass
class DeploymentFound(Evaluator[EvalInput, EvalOutput, GroundTruth]):
    """The claimed deployments are exactly the causal one, or none when none caused it."""

    def evaluate(self, ctx: EvaluatorContext[EvalInput, EvalOutput, GroundTruth]) -> bool:
        truth, report = _truth(ctx), ctx.output.report
        if report is None:
            return False
        claimed = {
            e.id
            for e in report.correlated_events
            if e.kind == "deployment" and e.confidence >= CLAIM
        }
        return claimed == ({truth.deployment_id} if truth.deployment_id else set())


@dataclass
class NoFalseAlarm(Evaluator[EvalInput, EvalOutput, GroundTruth]):
    """Nothing happened: no anomaly, and no segment or event claimed."""

    def evaluate(self, ctx: EvaluatorContext[EvalInput, EvalOutput, GroundTruth]) -> bool:
        report = ctx.output.report
        if report is None:
            return False
        return (
            report.anomaly.direction == "none"
            and all(s.confidence < CLAIM for s in report.affected_segments)
            and all(e.confidence < CLAIM for e in report.correlated_events)
        )


# -- dataset and task ------------------------------------------------------------------------------


def world_path(scenario: Scenario, cache: Path, users: int | None, seed: int | None = None) -> Path:
    """The scenario's world (at ``seed``, else its own) in the cache, generated on first use.
    Its name carries a digest of the scenario's definition, so an edited scenario is never
    scored on its old world."""
    n = users or scenario.world.users
    spec = repr((scenario.world, scenario.finish_sql, scenario.metrics_toml))
    stem = f"{scenario.name}-{n}-{zlib.crc32(spec.encode()):08x}"
    if seed is not None:
        stem += f"-seed{seed}"
    # a world with its own metrics lies in a directory of its own, its mai.toml beside it
    where = cache / stem if scenario.metrics_toml else cache
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"{stem}.duckdb"
    if not path.exists():
        build_world(scenario, path, users=n, seed=seed)
    return path


def build_dataset(
    scenarios: list[Scenario],
    cache: Path,
    users: int | None,
    styles: dict[str, str] | None = None,
    splits: tuple[str, ...] = ("tuning",),
) -> Dataset[EvalInput, EvalOutput, GroundTruth]:
    """Every question of every scenario (only the style ``styles[name]`` when given), on the
    tuning worlds and/or the held-out seeds' worlds."""
    worlds: list[tuple[str, int | None]] = []
    if "tuning" in splits:
        worlds.append(("tuning", None))
    if "held-out" in splits:
        worlds += [("held-out", seed) for seed in HELD_OUT_SEEDS]
    cases: list[Case[EvalInput, EvalOutput, GroundTruth]] = []
    for split, seed in worlds:
        prefix = "" if seed is None else f"seed{seed}:"
        for sc in scenarios:
            world = str(world_path(sc, cache, users, seed))
            extra: list[Evaluator[EvalInput, EvalOutput, GroundTruth]] = (
                [NoFalseAlarm()] if sc.truth.direction == "none" else []
            )
            for style, questions in sc.questions.items():
                if styles and styles.get(sc.name, style) != style:
                    continue
                for i, question in enumerate(questions, start=1):
                    cases.append(
                        Case(
                            name=f"{prefix}{sc.name}/{style}{i if len(questions) > 1 else ''}",
                            inputs=EvalInput(sc.name, style, question, world, split),
                            metadata=sc.truth,
                            evaluators=extra,
                        )
                    )
    return Dataset(
        name="metric-anomaly-investigator",
        cases=cases,
        evaluators=[AnomalyFound(), RootCauseFound(), DeploymentFound()],
    )


async def investigate(inputs: EvalInput, model: str) -> EvalOutput:
    """One full investigation through the real orchestrator."""
    with open_warehouse(inputs.world) as wh:
        orchestrator = Orchestrator(wh, model=model)
        async for _event in orchestrator.investigate(inputs.question):
            pass
        record = orchestrator.record
        assert record is not None
        return EvalOutput(status=record.status, report=record.report, error=record.error)


def pass_rate(
    report: EvaluationReport[EvalInput, EvalOutput, GroundTruth], split: str | None = None
) -> tuple[int, int]:
    """(cases whose every assertion passed, cases), of one split or of all."""
    cases = [c for c in report.cases if split is None or c.inputs.split == split]
    failures = [f for f in report.failures if split is None or f.inputs.split == split]
    passed = sum(1 for c in cases if c.assertions and all(a.value for a in c.assertions.values()))
    return passed, len(cases) + len(failures)


def run(
    model: str = "autopilot",
    scenario_names: list[str] | None = None,
    users: int | None = None,
    cache: Path | None = None,
    *,
    styles: dict[str, str] | None = None,
    splits: tuple[str, ...] = ("tuning",),
    progress: bool = True,
) -> EvaluationReport[EvalInput, EvalOutput, GroundTruth]:
    """Build the dataset and evaluate it (one case at a time: the worlds are shared files)."""
    chosen = [SCENARIOS[n] for n in scenario_names] if scenario_names else list(SCENARIOS.values())
    cache_dir = cache or Path(tempfile.gettempdir()) / "mai-eval-worlds"
    cache_dir.mkdir(parents=True, exist_ok=True)
    dataset = build_dataset(chosen, cache_dir, users, styles, splits)

    async def task(inputs: EvalInput) -> EvalOutput:
        return await investigate(inputs, model)

    return dataset.evaluate_sync(task, max_concurrency=1, progress=progress, name=model)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="autopilot", help="autopilot or provider:model")
    parser.add_argument("--scenarios", default="", help="comma-separated scenario names")
    parser.add_argument(
        "--users", type=int, default=None, help="users per world (smaller = faster)"
    )
    parser.add_argument("--cache", type=Path, default=None, help="where generated worlds are kept")
    parser.add_argument(
        "--split",
        choices=[*SPLITS, "all"],
        default="all",
        help="tuning worlds, held-out seeds, or both (default)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(
            f"Unknown scenario(s): {', '.join(unknown)}. Valid: {', '.join(SCENARIOS)}.",
            file=sys.stderr,
        )
        return 2
    if args.users is not None and args.users < 100:
        print("--users must be at least 100.", file=sys.stderr)
        return 2
    try:
        splits = SPLITS if args.split == "all" else (args.split,)
        report = run(args.model, names or None, args.users, args.cache, splits=splits)
    except (ModelConfigError, WarehouseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report.print(include_durations=True)
    for split in splits:
        passed, total = pass_rate(report, split)
        seeds = "" if split == "tuning" else f" (seeds {', '.join(map(str, HELD_OUT_SEEDS))})"
        print(f"{split}{seeds}: {passed}/{total} cases ({100 * passed / max(total, 1):.0f}%)")
    passed, total = pass_rate(report)
    print(
        f"Pass rate: {passed}/{total} cases ({100 * passed / max(total, 1):.0f}%) with {args.model}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
