"""Running the suite: worlds generated once per (scenario, seed), investigations in worker
processes, evaluators in the parent.

An investigation is CPU-bound and pydantic-evals runs its tasks on one event loop, so each
case's task hands its investigation to a :class:`ProcessPoolExecutor` of ``jobs`` workers and
awaits it; the evaluators (cheap, some reading the world) run in the parent as results arrive.
A follow-up chain is one job: its first question, then every follow-up in order on the same
orchestrator; each follow-up case awaits the chain's one future and scores its own report.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

from pydantic_evals import Case, Dataset
from pydantic_evals.reporting import EvaluationReport

from metric_anomaly_investigator.core.orchestrator import Orchestrator
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.scenarios import (
    SCENARIOS,
    GroundTruth,
    Scenario,
    build_world,
)
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

from .cases import HELD_OUT_SEEDS, CaseSpec, EvalInput, chain_start, world_file
from .evaluators import evaluators_for
from .outputs import EvalOutput

Report = EvaluationReport[EvalInput, EvalOutput, GroundTruth]


def _quiet() -> None:
    """A worker's standard output goes nowhere: DuckDB's progress bars on long queries would
    interleave with the parent's table (errors still reach standard error)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def pool(jobs: int) -> ProcessPoolExecutor:
    """Worker processes started fresh (spawn): no DuckDB thread state is inherited."""
    return ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_quiet
    )


# -- worlds ----------------------------------------------------------------------------------------


def _generate(name: str, path: str, users: int | None, seed: int | None) -> str:
    """Build one world into a temporary file beside ``path``, then move it into place, so an
    interrupted build never leaves a file that looks finished."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.stem}.{os.getpid()}.tmp.duckdb")
    tmp.unlink(missing_ok=True)
    build_world(SCENARIOS[name], tmp, users=users, seed=seed)
    os.replace(tmp, target)
    return path


def ensure_worlds(
    scenarios: Iterable[Scenario],
    cache: Path,
    users: int | None,
    seeds: Iterable[int | None],
    executor: Executor,
) -> None:
    """Generate the missing worlds of ``scenarios`` at ``seeds`` (None: their own), in
    parallel."""
    seeds = list(seeds)
    todo = [
        (sc.name, str(world_file(sc, cache, users, seed)), users, seed)
        for sc in scenarios
        for seed in seeds
        if not world_file(sc, cache, users, seed).exists()
    ]
    futures = [executor.submit(_generate, *args) for args in todo]
    for f in futures:
        f.result()


def seeds_for(splits: Iterable[str]) -> list[int | None]:
    """The seeds a run needs: the scenarios' own always (held-out phrasings, follow-ups and
    unknown metrics run there), the held-out seeds when the held-out split is asked for."""
    return [None, *(HELD_OUT_SEEDS if "held-out" in set(splits) else ())]


def metric_terms(path: Path) -> list[str]:
    """The names, labels and synonyms of the world's metrics."""
    with open_warehouse(path) as wh:
        out = []
        for name in wh.schema.metrics:
            m = wh.schema.metric(name)
            out += [name, name.replace("_", " "), m.label, *m.synonyms]
        return out


# -- investigations (in the workers) ---------------------------------------------------------------


_OPEN: OrderedDict[str, Warehouse] = OrderedDict()  # a worker's recently used worlds
_KEEP_OPEN = 3


def _warehouse(world: str) -> Warehouse:
    """The world, opened once per worker while it is among the last few used (cases come
    grouped by world, and an open costs about as much as a fifth of an investigation)."""
    if world in _OPEN:
        _OPEN.move_to_end(world)
        return _OPEN[world]
    wh = _OPEN[world] = open_warehouse(world)
    while len(_OPEN) > _KEEP_OPEN:
        _OPEN.popitem(last=False)[1].close()
    return wh


def run_chain(world: str, questions: tuple[str, ...], model: str) -> list[EvalOutput]:
    """Ask the first question, then each further one as a follow-up of the same record; one
    output per question."""

    async def go() -> list[EvalOutput]:
        orchestrator = Orchestrator(_warehouse(world), model=model)
        out = []
        for i, question in enumerate(questions):
            started = time.perf_counter()
            events = orchestrator.investigate if i == 0 else orchestrator.follow_up
            async for _event in events(question):
                pass
            root = orchestrator.record
            assert root is not None
            run = root if i == 0 else root.follow_ups[-1]
            took = time.perf_counter() - started
            out.append(EvalOutput(run.status, run.report, run.error, took))
        return out

    return asyncio.run(go())


# -- the dataset -----------------------------------------------------------------------------------


def dataset(specs: list[CaseSpec]) -> Dataset[EvalInput, EvalOutput, GroundTruth]:
    cases = [
        Case(
            name=s.name,
            inputs=s.inputs,
            metadata=s.truth,
            evaluators=evaluators_for(s.inputs.kind),
        )
        for s in specs
    ]
    return Dataset(name="metric-anomaly-investigator", cases=cases)


def evaluate(
    specs: list[CaseSpec], model: str, executor: Executor, jobs: int, progress: bool
) -> Report:
    """Run every case, ``jobs`` investigations at a time in the workers."""
    chains: dict[tuple[str, str], asyncio.Future[list[EvalOutput]]] = {}

    async def task(inputs: EvalInput) -> EvalOutput:
        loop = asyncio.get_running_loop()
        if inputs.kind != "follow_up":
            outputs = await loop.run_in_executor(
                executor, run_chain, inputs.world, (inputs.question,), model
            )
            return outputs[0]
        sc = SCENARIOS[inputs.scenario]
        full = (chain_start(sc), *(f.question for f in sc.truth.follow_ups))
        key = (inputs.world, inputs.scenario)
        if key not in chains:
            chains[key] = asyncio.ensure_future(
                loop.run_in_executor(executor, run_chain, inputs.world, full, model)
            )
        outputs = await chains[key]
        return outputs[len(inputs.chain)]

    return dataset(specs).evaluate_sync(
        task, max_concurrency=2 * jobs, progress=progress, name=model
    )
