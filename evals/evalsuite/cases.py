"""The suite's cases: every scenario x every question x seeds, follow-up chains and questions
about metrics the world does not have, each in the tuning or the held-out split.

Splits (the held-out part is never looked at while tuning the analyst):

* a scenario's own seed is the *tuning* world; :data:`HELD_OUT_SEEDS` regenerate the same
  story with other users and other noise: every case on them is *held-out*;
* phrasings are held out too: a question whose :func:`held_out_phrasing` is true (the CRC-32 of
  its stripped, lower-cased text is divisible by 4, about a quarter of them) is *held-out* even
  on the tuning seed. The rule reads only the text, so a new question lands on a side by itself.

Follow-up chains run on the tuning seed only (to bound time): the scenario's first question
whose phrasing is not held out, then each of its ``follow_ups`` in order, each one a case
scored on its own report. Unknown-metric cases (:data:`UNKNOWN_METRICS`) also run on the tuning
seed, on every world whose metrics do not include the one asked about.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from metric_anomaly_investigator.warehouse.scenarios import FollowUp, GroundTruth, Scenario

from .text import mentions

HELD_OUT_SEEDS = (7001, 7002)  # never used while tuning the analyst: keep it that way
SPLITS = ("tuning", "held-out")
KINDS = ("first", "follow_up", "unknown_metric")
CaseKind = Literal["first", "follow_up", "unknown_metric"]


@dataclass(frozen=True)
class UnknownMetric:
    """A question about a metric worlds are not built with, and the names it goes by (the
    first is how the question says it; any of them names it in the report)."""

    question: str
    names: tuple[str, ...]


UNKNOWN_METRICS = (
    UnknownMetric("What happened to revenue last week?", ("revenue",)),
    UnknownMetric("Why did our NPS drop this month?", ("NPS", "net promoter score")),
    UnknownMetric("Our churn rate went up in January. Why?", ("churn rate", "churn")),
    UnknownMetric("Is p95 latency getting worse?", ("p95 latency", "latency")),
    UnknownMetric(
        "Did support tickets spike after the last release?", ("support tickets", "tickets")
    ),
    UnknownMetric(
        "Why did the average order value fall in January?",
        ("average order value", "order value", "AOV"),
    ),
)


@dataclass(frozen=True)
class EvalInput:
    scenario: str
    style: str  # the question's style; for the other kinds, the kind itself
    question: str
    world: str
    split: str = "tuning"
    kind: CaseKind = "first"
    seed: int | None = None  # None: the scenario's own seed
    chain: tuple[str, ...] = ()  # a follow-up's earlier questions, the first question first
    follow_up: FollowUp | None = None
    unknown_metric: tuple[str, ...] = ()  # the names of the metric the world does not have


@dataclass(frozen=True)
class CaseSpec:
    name: str
    inputs: EvalInput
    truth: GroundTruth


def held_out_phrasing(question: str) -> bool:
    """A quarter of the phrasings, chosen by their text alone, are held out at every seed."""
    return zlib.crc32(question.strip().lower().encode()) % 4 == 0


def world_file(scenario: Scenario, cache: Path, users: int | None, seed: int | None = None) -> Path:
    """Where the scenario's world (at ``seed``, else its own) lives in the cache. Its name
    carries a digest of the scenario's definition, so an edited scenario is never scored on its
    old world; a world with its own metrics lies in a directory of its own, its mai.toml beside
    it."""
    n = users or scenario.world.users
    spec = repr((scenario.world, scenario.finish_sql, scenario.metrics_toml))
    stem = f"{scenario.name}-{n}-{zlib.crc32(spec.encode()):08x}"
    if seed is not None:
        stem += f"-seed{seed}"
    where = cache / stem if scenario.metrics_toml else cache
    return where / f"{stem}.duckdb"


def metric_absent(names: Iterable[str], world_terms: Iterable[str]) -> bool:
    """None of ``names`` is, or contains, or is contained in a word-for-word way in, any of the
    world's metric terms (names, labels, synonyms): "p95 latency" is not absent from a world
    with a latency metric."""
    terms = [t.lower() for t in world_terms]
    return not any(mentions(t, n.lower()) or mentions(n.lower(), t) for n in names for t in terms)


def _split(seed: int | None, question: str) -> str:
    held = seed in HELD_OUT_SEEDS or held_out_phrasing(question)
    return "held-out" if held else "tuning"


def _questions(sc: Scenario) -> list[tuple[str, str, int]]:
    """(style, question, its number within the style) in the scenario's order."""
    return [
        (style, question, i)
        for style, questions in sc.questions.items()
        for i, question in enumerate(questions, start=1)
    ]


def chain_start(sc: Scenario) -> str:
    """The question a follow-up chain starts from: the first whose phrasing is tuning."""
    questions = [q for _, q, _ in _questions(sc)]
    return next((q for q in questions if not held_out_phrasing(q)), questions[0])


def build_cases(
    scenarios: Iterable[Scenario],
    world: Callable[[Scenario, int | None], Path],
    *,
    splits: Iterable[str] = SPLITS,
    styles: Iterable[str] | None = None,
    kinds: Iterable[str] = KINDS,
    world_metrics: Mapping[str, Iterable[str]] | None = None,
) -> list[CaseSpec]:
    """The cases of ``scenarios`` in the given splits, styles (first questions) and kinds.

    ``world(scenario, seed)`` names each world's file (seed ``None``: its own).
    ``world_metrics`` maps a scenario to its world's metric terms; unknown-metric cases are
    built only for the scenarios it covers (their absence is checked against it).
    """
    splits, kinds = set(splits), set(kinds)
    wanted_styles = set(styles) if styles is not None else None
    out: list[CaseSpec] = []
    for sc in scenarios:
        for seed in (None, *HELD_OUT_SEEDS):
            path = str(world(sc, seed))
            prefix = "" if seed is None else f"seed{seed}:"
            if "first" in kinds:
                many = {s: len(qs) > 1 for s, qs in sc.questions.items()}
                for style, question, i in _questions(sc):
                    split = _split(seed, question)
                    if split not in splits or (wanted_styles and style not in wanted_styles):
                        continue
                    name = f"{prefix}{sc.name}/{style}{i if many[style] else ''}"
                    inputs = EvalInput(sc.name, style, question, path, split, "first", seed)
                    out.append(CaseSpec(name, inputs, sc.truth))
            if seed is not None:
                continue
            if "follow_up" in kinds:
                asked = [chain_start(sc)]
                for i, fu in enumerate(sc.truth.follow_ups, start=1):
                    split = _split(seed, fu.question)
                    if split in splits:
                        inputs = EvalInput(
                            sc.name, "follow_up", fu.question, path, split, "follow_up",
                            seed, tuple(asked), fu,
                        )  # fmt: skip
                        out.append(CaseSpec(f"{sc.name}/follow_up{i}", inputs, sc.truth))
                    asked.append(fu.question)
            if "unknown_metric" in kinds and world_metrics is not None and sc.name in world_metrics:
                terms = list(world_metrics[sc.name])
                for i, um in enumerate(UNKNOWN_METRICS, start=1):
                    split = _split(seed, um.question)
                    if split not in splits or not metric_absent(um.names, terms):
                        continue
                    inputs = EvalInput(
                        sc.name, "unknown_metric", um.question, path, split, "unknown_metric",
                        seed, unknown_metric=um.names,
                    )  # fmt: skip
                    out.append(CaseSpec(f"{sc.name}/unknown_metric{i}", inputs, sc.truth))
    return out
