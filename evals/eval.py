"""Evals: every scenario x every question x three seeds, follow-up chains and unknown metrics,
each investigated end to end and scored against ground truth.

    uv run python evals/eval.py [--model M] [--scenarios a,b] [--users N] [--cache DIR]
                                [--split tuning|held-out|all] [--styles clear,vague]
                                [--kinds first,follow_up,unknown_metric] [--jobs N] [--list]

Cases (``evalsuite/cases.py``): every question of every scenario (all styles) on the
scenario's own seed and on :data:`HELD_OUT_SEEDS`; after the first report, each of the
scenario's follow-ups asked in order on the same record (own seed); questions about metrics the
world lacks (own seed, only where the world's schema really lacks them).

Splits: the *held-out* part, never looked at while tuning the analyst, is every case on the
held-out seeds plus, at the own seed, every phrasing whose CRC-32 (of the stripped, lower-cased
question) is divisible by 4; the rest is *tuning*. Both are run by default and reported apart.

Evaluators (``evalsuite/evaluators.py``): direction; start within one day; every root cause
named; a deployment named iff causal; scope coherence (no event tied to a segment outside its
scope); mechanism; the answer (and a follow-up's Yes/No and the values it must mention);
honesty on unknown metrics; consistency (one figure per segment).

Each world is generated once into the cache directory, in parallel; every case runs the real
:class:`Orchestrator` (autopilot unless ``--model``) in one of ``--jobs`` worker processes.
Prints the per-case table, pass rates by split, kind, style, scenario, seed and evaluator, and
``N/M cases (P%)``. Exits 0 unless something crashed (2 on bad arguments). ``--list`` prints the
cases without running them (it generates the own-seed worlds when unknown-metric cases are
asked for: their absence is checked against each world's metrics).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import Executor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evalsuite.cases import (
    HELD_OUT_SEEDS,
    KINDS,
    SPLITS,
    UNKNOWN_METRICS,
    CaseSpec,
    EvalInput,
    build_cases,
    held_out_phrasing,
    world_file,
)
from evalsuite.evaluators import evaluators_for
from evalsuite.outputs import EvalOutput
from evalsuite.runner import ensure_worlds, evaluate, metric_terms, pool, seeds_for
from evalsuite.segments import CLAIM, segments_equivalent, truth_window
from evalsuite.summary import failure_lines, pass_rate, summary_lines
from pydantic_evals.reporting import EvaluationReport

from metric_anomaly_investigator.core.agents import ModelConfigError
from metric_anomaly_investigator.warehouse.scenarios import (
    SCENARIOS,
    GroundTruth,
    Scenario,
)
from metric_anomaly_investigator.warehouse.types import WarehouseError

__all__ = [
    "CLAIM",
    "HELD_OUT_SEEDS",
    "KINDS",
    "SPLITS",
    "UNKNOWN_METRICS",
    "EvalInput",
    "EvalOutput",
    "build_cases",
    "evaluators_for",
    "held_out_phrasing",
    "main",
    "pass_rate",
    "plan",
    "run",
    "segments_equivalent",
    "truth_window",
]

STYLES_ALL = None  # every style


def default_cache() -> Path:
    return Path(tempfile.gettempdir()) / "mai-eval-worlds"


def plan(
    scenarios: list[Scenario],
    cache: Path,
    users: int | None,
    *,
    splits: tuple[str, ...] = SPLITS,
    styles: list[str] | None = STYLES_ALL,
    kinds: tuple[str, ...] = KINDS,
    executor: Executor,
) -> list[CaseSpec]:
    """The cases to run, their worlds generated (in parallel on ``executor``) first."""
    cache.mkdir(parents=True, exist_ok=True)
    ensure_worlds(scenarios, cache, users, seeds_for(splits), executor)
    terms = (
        {sc.name: metric_terms(world_file(sc, cache, users)) for sc in scenarios}
        if "unknown_metric" in kinds
        else None
    )
    return build_cases(
        scenarios,
        lambda sc, seed: world_file(sc, cache, users, seed),
        splits=splits,
        styles=styles,
        kinds=kinds,
        world_metrics=terms,
    )


def run(
    model: str = "autopilot",
    scenario_names: list[str] | None = None,
    users: int | None = None,
    cache: Path | None = None,
    *,
    splits: tuple[str, ...] = SPLITS,
    styles: list[str] | None = STYLES_ALL,
    kinds: tuple[str, ...] = KINDS,
    jobs: int = 2,
    progress: bool = True,
) -> EvaluationReport[EvalInput, EvalOutput, GroundTruth]:
    """Build the cases (and their worlds) and evaluate them."""
    chosen = [SCENARIOS[n] for n in scenario_names] if scenario_names else list(SCENARIOS.values())
    with pool(jobs) as executor:
        specs = plan(
            chosen,
            cache or default_cache(),
            users,
            splits=splits,
            styles=styles,
            kinds=kinds,
            executor=executor,
        )
        return evaluate(specs, model, executor, jobs, progress)


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
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
        help="tuning cases, held-out cases, or both (default)",
    )
    parser.add_argument("--styles", default="", help="comma-separated question styles (first)")
    parser.add_argument("--kinds", default="", help=f"comma-separated: {', '.join(KINDS)}")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--list", action="store_true", help="print the cases, do not run them")
    return parser.parse_args(argv)


def _bad(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


def _print_cases(specs: list[CaseSpec]) -> None:
    for s in specs:
        i = s.inputs
        print(f"{i.split:<8}  {i.kind:<14}  {s.name}: {i.question}")
    print(f"{len(specs)} cases")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    names = _names(args.scenarios)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        return _bad(f"Unknown scenario(s): {', '.join(unknown)}. Valid: {', '.join(SCENARIOS)}.")
    if args.users is not None and args.users < 100:
        return _bad("--users must be at least 100.")
    if args.jobs < 1:
        return _bad("--jobs must be at least 1.")
    kinds = tuple(_names(args.kinds)) or KINDS
    if bad_kinds := [k for k in kinds if k not in KINDS]:
        return _bad(f"Unknown kind(s): {', '.join(bad_kinds)}. Valid: {', '.join(KINDS)}.")
    styles = _names(args.styles) or None
    known_styles = {s for sc in SCENARIOS.values() for s in sc.questions}
    if styles and (bad_styles := [s for s in styles if s not in known_styles]):
        return _bad(
            f"Unknown style(s): {', '.join(bad_styles)}. Valid: {', '.join(sorted(known_styles))}."
        )
    splits = SPLITS if args.split == "all" else (args.split,)
    chosen = [SCENARIOS[n] for n in names] if names else list(SCENARIOS.values())
    cache = args.cache or default_cache()
    started = time.perf_counter()
    try:
        if args.list:
            with pool(args.jobs) as executor:
                specs = plan(
                    chosen, cache, args.users, splits=splits, styles=styles, kinds=kinds,
                    executor=executor,
                )  # fmt: skip
            _print_cases(specs)
            return 0
        report = run(
            args.model, names or None, args.users, cache, splits=splits, styles=styles,
            kinds=kinds, jobs=args.jobs,
        )  # fmt: skip
    except (ModelConfigError, WarehouseError) as exc:
        return _bad(f"error: {exc}")
    report.print(include_durations=True, include_reasons=False)
    for line in [*failure_lines(report), *summary_lines(report, args.model)]:
        print(line)
    print(f"Wall time: {time.perf_counter() - started:.0f} s with {args.jobs} jobs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
