"""The eval suite: its text rules, every evaluator on hand-built reports (passing and failing),
and its case list. No investigation runs here; the full suite is ``uv run python
evals/eval.py``."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic_evals.evaluators import EvaluationReason, EvaluatorContext
from pydantic_evals.otel import SpanTreeRecordingError
from test_autopilot import load_evals

from metric_anomaly_investigator.core.models import (
    AffectedSegment,
    AnomalySummary,
    CorrelatedEvent,
    Report,
)
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.scenarios import SCENARIOS, FollowUp, GroundTruth

EVALS = load_evals()  # puts evals/ on sys.path for the imports below

from evalsuite import cases as C  # noqa: E402
from evalsuite import evaluators as E  # noqa: E402
from evalsuite import text as T  # noqa: E402
from evalsuite.outputs import EvalOutput  # noqa: E402

WORLD = "/nowhere/world.duckdb"  # evaluators needing the world's events get them patched in
TRUTH = GroundTruth(
    metric="dau",
    direction="drop",
    start=date(2026, 1, 28),
    root_cause=[{"platform": "android", "country": "ID"}, {"country": "GB"}],
    deployment_id="deploy_id",
    mechanism="deployment",
    wrong_premise=("The Indonesia release explains the whole drop, right?",),
)
SCOPES = E.WorldEvents(
    deployments={
        "deploy_id": {"platform": {"android"}, "app_version": {"2.4.0"}, "country": {"id"}},
        "deploy_ios": {"platform": {"ios"}},
    },
    annotations={"Payment outage": {"country": {"gb"}}},
)


@pytest.fixture(autouse=True)
def world_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(E, "world_events", lambda path: SCOPES)


def seg(
    filters: dict[str, str],
    change: float | None = -60.0,
    confidence: float = 0.9,
    mechanism: Any = None,
    explained_by: tuple[str, ...] = (),
) -> AffectedSegment:
    return AffectedSegment(
        filters=filters,
        change_pct=change,
        share_of_change=0.5,
        confidence=confidence,
        description="",
        mechanism=mechanism,
        explained_by=list(explained_by),
    )


def report(
    *,
    answer: str = "DAU dropped.",
    summary: str = "",
    root: str = "",
    direction: Any = "drop",
    start: date | None = date(2026, 1, 28),
    segments: tuple[AffectedSegment, ...] = (),
    events: tuple[tuple[str, float], ...] = (),
    confidence: float = 0.8,
) -> Report:
    return Report(
        answer=answer,
        summary=summary,
        root_cause=root,
        anomaly=AnomalySummary(metric="dau", direction=direction, start=start),
        affected_segments=list(segments),
        correlated_events=[
            CorrelatedEvent(kind="deployment", id=i, description="", confidence=c)
            for i, c in events
        ],
        confidence=confidence,
    )


def check(
    evaluator: Any,
    rep: Report | None,
    truth: GroundTruth = TRUTH,
    question: str = "DAU dropped after January 28th. Why?",
    **inputs: Any,
) -> EvaluationReason:
    ctx: EvaluatorContext[Any, Any, Any] = EvaluatorContext(
        name="case",
        inputs=C.EvalInput("s", "clear", question, **{"world": WORLD, **inputs}),
        metadata=truth,
        expected_output=None,
        output=EvalOutput("completed" if rep else "failed", rep, None if rep else "boom"),
        duration=0.0,
        _span_tree=SpanTreeRecordingError("not recorded"),
        attributes={},
        metrics={},
    )
    result = evaluator.evaluate(ctx)
    assert isinstance(result, EvaluationReason)
    return result


BOTH = (seg({"platform": "android", "country": "ID"}), seg({"country": "GB"}))


# -- text rules ------------------------------------------------------------------------------------


def test_opens_with() -> None:
    for text in ("No — it did not", "no: nothing", "No, Brazil is fine", "  No. ", "NO"):
        assert T.opens_with(text, "no")
    for text in ("Nothing broke", "Not really", "Yes — it did", "The answer is no"):
        assert not T.opens_with(text, "no")
    assert T.opens_with("Yes: on Android only", "yes")
    assert not T.opens_with("Yesterday it dropped", "yes")


def test_mentions() -> None:
    assert T.mentions("country=IN dropped", "IN")
    assert not T.mentions("it dropped in India", "IN")  # a code must appear in capitals
    assert T.mentions("the Android app", "android")
    assert not T.mentions("version 2.4.0.1", "2.4.0")
    assert T.mentions("on 2.4.0.", "2.4.0")
    assert not T.mentions("deploy_0031", "deploy_003")


def test_segment_mentions() -> None:
    text = "in country=IN, platform=android and in platform = Android , country = in; country=IN."
    both = {"platform": "android", "country": "IN"}
    assert len(T.segment_mentions(text, both)) == 2  # any order, any case, spaces
    # the narrower label "country=IN, platform=android" does not name country=IN
    assert len(T.segment_mentions(text, {"country": "IN"})) == 1
    assert T.segment_mentions(text, {}) == []


def test_figures_and_rounding() -> None:
    text = "country=GB (-35.2% vs the weeks before, 40% of the change, +3% vs the rest)."
    figs = T.figures_next_to(text, {"country": "GB"}, [])
    assert [f.value for f in figs] == [-35.2, 40.0, 3.0]
    assert [f.other_comparison for f in figs] == [False, True, True]
    assert T.agrees(figs[0], -35.24) and not T.agrees(figs[0], -35.26)
    assert not T.agrees(figs[0], 35.2)  # a printed sign must be right
    unsigned = T.figures("fell 35%")[0]
    assert T.agrees(unsigned, -35.4) and not T.agrees(unsigned, -36.0)


# -- the first question's evaluators ---------------------------------------------------------------


def test_direction_and_start() -> None:
    assert check(E.Direction(), report()).value
    assert not check(E.Direction(), report(direction="spike")).value
    assert not check(E.Direction(), None).value
    assert check(E.Start(), report(start=date(2026, 1, 29))).value
    assert not check(E.Start(), report(start=date(2026, 1, 30))).value
    assert not check(E.Start(), report(direction="none", start=None)).value
    none = GroundTruth(metric="dau", direction="none", start=None)
    assert check(E.Start(), report(), none).reason == E.NA


def test_root_causes(small_world_path: Path) -> None:
    world = str(small_world_path)
    found = (seg({"country": "gb"}), seg({"platform": "Android", "country": "id"}))
    assert check(E.RootCauses(), report(segments=found)).value  # values in any case
    assert not check(E.RootCauses(), report(segments=(BOTH[0],)), world=world).value
    low = seg({"country": "GB"}, confidence=0.4)  # not claimed
    assert not check(E.RootCauses(), report(segments=(BOTH[0], low)), world=world).value
    none = GroundTruth(metric="dau", direction="none", start=None)
    assert check(E.RootCauses(), report(segments=(low,)), none).value
    assert not check(E.RootCauses(), report(segments=(BOTH[1],)), none).value


def test_root_causes_by_rows(small_world_path: Path) -> None:
    truth = GroundTruth(
        metric="dau",
        direction="drop",
        start=date(2026, 1, 28),
        root_cause=[{"platform": "android", "country": "IN"}],
    )
    same_rows = seg({"platform": "android", "country": "IN", "app_version": "2.3.0"})
    ctx_world = {"world": str(small_world_path)}
    rep = report(segments=(same_rows,))
    result = check(E.RootCauses(), rep, truth, **ctx_world)
    assert (result.value, result.reason) == (True, "same rows")
    assert not check(
        E.RootCauses(), report(segments=(seg({"country": "IN"}),)), truth, **ctx_world
    ).value


def test_segment_equivalence(small_world_path: Path) -> None:
    window = (date(2026, 1, 28), date(2026, 2, 11))
    truth = [{"platform": "android", "country": "IN"}]
    equivalent = EVALS.segments_equivalent
    with open_warehouse(small_world_path) as wh:
        assert not equivalent(wh, [{"Platform": "android", "country": "in"}], truth, window)[0]
        assert equivalent(wh, [{"platform": "Android", "country": "in"}], truth, window)[0]
        rows = [{"platform": "android", "country": "IN", "app_version": "2.3.0"}]
        assert equivalent(wh, rows, truth, window) == (True, "same rows")
        assert not equivalent(wh, [{"country": "IN"}], truth, window)[0]
        assert not equivalent(wh, [], truth, window)[0]
        assert equivalent(wh, [], [], window)[0]


def test_deployment_iff_causal() -> None:
    ok = report(events=(("deploy_id", 0.9), ("deploy_ios", 0.1)), root="deploy_id — drop")
    assert check(E.DeploymentIffCausal(), ok).value
    assert not check(E.DeploymentIffCausal(), report(events=(("deploy_ios", 0.6),))).value
    assert not check(E.DeploymentIffCausal(), report()).value  # the causal one not claimed
    decoy_named = report(events=(("deploy_id", 0.9),), root="deploy_ios (iOS) — the drop")
    assert not check(E.DeploymentIffCausal(), decoy_named).value
    cited = report(
        events=(("deploy_id", 0.9),),
        segments=(seg({"platform": "ios"}, explained_by=("deploy_ios",)),),
    )
    assert not check(E.DeploymentIffCausal(), cited).value
    no_deploy = GroundTruth(metric="dau", direction="drop", start=date(2026, 1, 28))
    assert check(E.DeploymentIffCausal(), report(), no_deploy).value
    # named in the root cause, though not claimed as an event: fails when none was causal
    named = report(root="country=GB dropped after deploy_id.")
    assert not check(E.DeploymentIffCausal(), named, no_deploy).value


def test_scope_coherence() -> None:
    in_scope = (
        seg({"platform": "android", "country": "ID"}, explained_by=("deploy_id",)),
        seg({"country": "GB"}, explained_by=("Payment outage",)),
    )
    root = "deploy_id — drop in platform=android, country=ID. Also a drop in country=GB."
    assert check(E.ScopeCoherence(), report(segments=in_scope, root=root)).value
    # a deployment scoped to Indonesia explaining Great Britain
    other_region = (seg({"country": "GB"}, explained_by=("deploy_id",)),)
    result = check(E.ScopeCoherence(), report(segments=other_region))
    assert not result.value and "deploy_id" in str(result.reason)
    # the root cause ties it to both segments it names in one sentence
    tied = (
        "deploy_id (Android 2.4.0 in ID) — dau drop in platform=android, country=ID and country=GB."
    )
    assert not check(E.ScopeCoherence(), report(segments=BOTH, root=tied)).value
    # a sentence naming a deployment and no segment ties it to every claimed segment
    untied = "deploy_id caused it. The drop is in country=GB and platform=android, country=ID."
    assert not check(E.ScopeCoherence(), report(segments=BOTH, root=untied)).value
    unknown = (seg({"country": "GB"}, explained_by=("deploy_999",)),)
    assert not check(E.ScopeCoherence(), report(segments=unknown)).value
    assert check(E.ScopeCoherence(), report()).reason == E.NA
    assert E.excludes({"country": {"id"}}, {"platform": "Android"}) is False
    assert E.excludes({"country": {"id"}}, {"country": "gb"}) is True


def test_mechanism() -> None:
    segs = (seg({"platform": "android", "country": "ID"}, mechanism="deployment"), BOTH[1])
    assert check(E.Mechanism(), report(segments=segs)).value
    assert not check(E.Mechanism(), report(segments=BOTH, summary="a deployment")).value
    whole = GroundTruth(
        metric="events", direction="spike", start=None, mechanism="automated_traffic"
    )
    assert check(E.Mechanism(), report(root="Extra activity: bots."), whole).value
    assert not check(E.Mechanism(), report(root="Extra activity."), whole).value
    fresh = GroundTruth(metric="dau", direction="none", start=None, mechanism="data_freshness")
    assert check(E.Mechanism(), report(summary="The last day is not fully loaded."), fresh).value
    assert not check(E.Mechanism(), report(summary="Nothing happened."), fresh).value
    assert check(E.Mechanism(), report(), GroundTruth("dau", "drop", None)).reason == E.NA


def test_answer() -> None:
    premise = TRUTH.wrong_premise[0]
    assert check(E.Answer(), report(answer="No — GB explains part of it."), question=premise).value
    assert not check(E.Answer(), report(answer="Yes, it does."), question=premise).value
    assert not check(E.Answer(), report(answer="  ")).value
    assert not check(E.Answer(), report(answer="No anomaly found.")).value  # there was a drop
    assert check(E.Answer(), report(answer="DAU fell 10%.")).value
    # a question about a rise, when the truth is a drop, may be answered "No"
    assert check(E.Answer(), report(answer="No — it fell."), question="Why did DAU jump?").value
    none = GroundTruth(metric="dau", direction="none", start=None)
    assert check(E.Answer(), report(answer="No — normal weekend dip."), none).value
    assert E.asked_direction("Are we losing people recently?") == "drop"
    assert E.asked_direction("Events jumped on January 29th.") == "spike"
    assert E.asked_direction("Did something happen?") is None


# -- follow-ups, unknown metrics, consistency ------------------------------------------------------


def test_follow_up_answer() -> None:
    fu = FollowUp("Is Indonesia affected?", "yes", ("ID", "deploy_id"))
    good = report(answer="Yes — country=ID dropped 60% after deploy_id.")
    assert check(E.FollowUpAnswer(), good, follow_up=fu).value
    assert not check(E.FollowUpAnswer(), report(answer="No — ID is fine."), follow_up=fu).value
    missing = report(answer="Yes — it dropped in id after the release.")
    assert not check(E.FollowUpAnswer(), missing, follow_up=fu).value
    no = FollowUp("Is Brazil affected?", "no")
    assert check(E.FollowUpAnswer(), report(answer="no: Brazil moved +1%."), follow_up=no).value
    assert check(E.FollowUpAnswer(), report()).reason == E.NA


def test_honesty() -> None:
    names = ("NPS", "net promoter score")
    honest = report(
        answer="This warehouse has no net promoter score metric.", direction="none",
        start=None, confidence=0.0,
    )  # fmt: skip
    assert check(E.Honesty(), honest, unknown_metric=names).value
    substituted = report(answer="DAU dropped 10%.", confidence=0.8)
    assert not check(E.Honesty(), substituted, unknown_metric=names).value
    claims = honest.model_copy(update={"affected_segments": [BOTH[1]]})
    assert not check(E.Honesty(), claims, unknown_metric=names).value
    sure = honest.model_copy(update={"confidence": 0.5})
    assert not check(E.Honesty(), sure, unknown_metric=names).value
    assert check(E.Honesty(), honest).reason == E.NA


def test_consistency() -> None:
    segs = (seg({"platform": "android", "country": "ID"}, -70.04), seg({"country": "GB"}, -35.0))
    good = report(
        summary="Concentrated in platform=android, country=ID (-70.0%, 60% of the change) and "
        "country=GB (-35% vs the weeks before; +30% vs the rest).",
        root="dau drop in country=ID, platform=android: 70% fewer users.",
        segments=segs,
    )
    assert check(E.Consistency(), good).value
    two_figures = report(answer="country=GB fell 35.0%; users -33.1% there.", segments=segs)
    assert check(E.Consistency(), two_figures).value  # the second figure is in another clause
    same_sentence = report(answer="country=GB fell 35.0%, users -33.1% there.", segments=segs)
    result = check(E.Consistency(), same_sentence)
    assert not result.value and "-33.1%" in str(result.reason)
    # the figure printed after the second segment's name belongs to the first
    shared = report(
        summary="In platform=android, country=ID and country=GB (-70.0% there).", segments=segs
    )
    assert not check(E.Consistency(), shared).value
    no_change = (seg({"country": "GB"}, None),)
    assert not check(E.Consistency(), report(summary="country=GB: -35%.", segments=no_change)).value
    assert check(
        E.Consistency(), report(summary="country=GB: 90% of it.", segments=no_change)
    ).value
    assert check(E.Consistency(), report()).reason == E.NA


# -- the case list ---------------------------------------------------------------------------------


def _cases(**kw: Any) -> list[C.CaseSpec]:
    return C.build_cases(
        SCENARIOS.values(), lambda sc, seed: Path(f"/w/{sc.name}-{seed}.duckdb"), **kw
    )


def test_case_list() -> None:
    first = [c for c in _cases(kinds=("first",))]
    assert len(first) >= 300
    per_scenario = Counter(c.inputs.scenario for c in first if c.inputs.seed is None)
    assert set(per_scenario) == set(SCENARIOS) and min(per_scenario.values()) >= 8
    seeds = Counter((c.inputs.scenario, c.inputs.question) for c in first)
    assert set(seeds.values()) == {1 + len(C.HELD_OUT_SEEDS)} and len(C.HELD_OUT_SEEDS) >= 2
    assert {7001, 7002} <= set(C.HELD_OUT_SEEDS)
    splits = Counter(c.inputs.split for c in first)
    assert splits["tuning"] > 0 and splits["held-out"] > 0
    # held out by seed, and by phrasing at the own seed
    assert all(c.inputs.split == "held-out" for c in first if c.inputs.seed is not None)
    own = [c for c in first if c.inputs.seed is None]
    assert any(c.inputs.split == "held-out" for c in own)
    assert all(
        (c.inputs.split == "held-out") == C.held_out_phrasing(c.inputs.question) for c in own
    )
    assert len({c.name for c in _cases()}) == len(_cases())  # names are unique


def test_follow_up_cases_chain_in_order() -> None:
    follow = _cases(kinds=("follow_up",))
    assert len(follow) == sum(len(sc.truth.follow_ups) for sc in SCENARIOS.values())
    for c in follow:
        sc = SCENARIOS[c.inputs.scenario]
        asked = [f.question for f in sc.truth.follow_ups]
        k = asked.index(c.inputs.question)
        assert c.inputs.chain == (C.chain_start(sc), *asked[:k])
        assert c.inputs.follow_up == sc.truth.follow_ups[k] and c.inputs.seed is None
    tuning = _cases(kinds=("follow_up",), splits=("tuning",))
    assert all(not C.held_out_phrasing(c.inputs.question) for c in tuning)


def test_unknown_metric_cases_only_where_absent() -> None:
    sc = next(iter(SCENARIOS.values()))
    terms = {sc.name: ["dau", "daily active users", "revenue", "latency", "sales"]}
    cases = C.build_cases([sc], lambda s, seed: Path("/w.duckdb"), world_metrics=terms)
    asked = {c.inputs.question for c in cases if c.inputs.kind == "unknown_metric"}
    questions = {u.question: u.names for u in C.UNKNOWN_METRICS}
    assert asked == {
        q for q, names in questions.items() if "revenue" not in names and "latency" not in names
    }
    assert not C.metric_absent(("p95 latency",), ["latency"])
    assert C.metric_absent(("churn rate",), ["error rate", "retention"])
    assert not _cases(kinds=("unknown_metric",))  # never built without the worlds' metrics


def test_held_out_phrasing_is_a_quarter() -> None:
    questions = [q for sc in SCENARIOS.values() for qs in sc.questions.values() for q in qs]
    share = sum(map(C.held_out_phrasing, questions)) / len(questions)
    assert 0.1 < share < 0.4
    assert C.held_out_phrasing("Is it real?") == C.held_out_phrasing("  is it REAL?")


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert EVALS.main(["--scenarios", "nope"]) == 2
    assert "Unknown scenario" in capsys.readouterr().err
    assert EVALS.main(["--kinds", "sideways"]) == 2
    assert EVALS.main(["--styles", "shouty"]) == 2
    assert EVALS.main(["--jobs", "0"]) == 2


def _case(name: str, inputs: C.EvalInput, results: dict[str, tuple[bool, str]]) -> Any:
    from pydantic_evals.evaluators.evaluator import EvaluationResult
    from pydantic_evals.evaluators.spec import EvaluatorSpec
    from pydantic_evals.reporting import ReportCase

    spec = EvaluatorSpec(name="x", arguments=None)
    assertions = {
        k: EvaluationResult(name=k, value=v, reason=r, source=spec) for k, (v, r) in results.items()
    }
    return ReportCase(
        name=name, inputs=inputs, metadata=TRUTH, expected_output=None,
        output=EvalOutput("completed", report(), seconds=2.0), metrics={}, attributes={},
        scores={}, labels={}, assertions=assertions, task_duration=2.0, total_duration=2.0,
    )  # fmt: skip


def test_pass_rates_by_class() -> None:
    from evalsuite import summary as S
    from pydantic_evals.reporting import EvaluationReport, ReportCaseFailure

    tuning = C.EvalInput("a", "clear", "q1", WORLD)
    held = C.EvalInput("b", "vague", "q2", WORLD, "held-out", seed=7001)
    unknown = C.EvalInput("a", "unknown_metric", "q3", WORLD, kind="unknown_metric")
    failed = ReportCaseFailure(
        name="c", inputs=held, metadata=TRUTH, expected_output=None,
        error_message="boom", error_stacktrace="",
    )  # fmt: skip
    rep = EvaluationReport(
        name="t",
        cases=[
            _case("a", tuning, {"Direction": (True, "drop"), "Start": (True, E.NA)}),
            _case("b", held, {"Direction": (False, "none, truth drop")}),
            _case("u", unknown, {"Honesty": (True, "honest")}),
        ],
        failures=[failed],
    )
    assert S.pass_rate(rep) == (2, 4)
    assert S.pass_rate(rep, "held-out") == (0, 2)
    by_split = S.rates_by(rep, lambda i: i.split)
    assert (by_split["tuning"].passed, by_split["tuning"].total) == (2, 2)
    by_eval = S.rates_by_evaluator(rep)
    assert str(by_eval["Direction"]) == "1/2 (50.0%)"
    assert "Start" not in by_eval  # n/a everywhere
    lines = S.summary_lines(rep, "autopilot")
    assert lines[-1] == "2/4 cases (50.0%) with autopilot"
    assert "By kind:" in lines and "By style:" in lines and "By scenario:" in lines
    assert any("Direction: none, truth drop" in line for line in S.failure_lines(rep))
