"""Markdown and plain-text renderings of an investigation record."""

from __future__ import annotations

from datetime import UTC, datetime

from engine_fakes import REPORT

from metric_anomaly_investigator.core.models import Investigation, Report, Step
from metric_anomaly_investigator.core.report_markdown import report_to_markdown, report_to_text

ANSWER = "DAU fell 12% vs its seasonal baseline from 2026-01-28, on Android in IN after deploy_003."


def record(*, answered: bool = True) -> Investigation:
    report = Report.model_validate(REPORT)  # a report as a model writes it, without the answer
    if answered:
        segment = report.affected_segments[0].model_copy(
            update={"mechanism": "deployment", "explained_by": ["deploy_003"]}
        )
        report = report.model_copy(update={"answer": ANSWER, "affected_segments": [segment]})
    rec = Investigation(
        id="abc",
        question="Why did DAU drop?",
        model="autopilot",
        warehouse="demo",
        started_at=datetime(2026, 1, 30, 12, tzinfo=UTC),
        status="completed",
        report=report,
        steps=[
            Step(
                index=1,
                action="detect_anomaly",
                reasoning="first",
                success=True,
                findings=["DAU dropped 12% from 2026-01-28"],
                duration_ms=20,
            ),
            Step(
                index=2, action="drill_down", reasoning="then | pipes", success=False, error="boom"
            ),
        ],
    )
    follow = Investigation(
        id="def",
        question="Only Android?",
        model="autopilot",
        warehouse="demo",
        started_at=datetime(2026, 1, 30, 12, 5, tzinfo=UTC),
        status="failed",
        error="usage limit reached",
    )
    rec.follow_ups.append(follow)
    return rec


def test_markdown_has_report_tables_steps_and_follow_ups() -> None:
    text = report_to_markdown(record())
    assert text.startswith("# Why did DAU drop?\n")
    assert "*completed · model autopilot · warehouse demo · 2026-01-30 12:00 UTC*" in text
    assert "| dau | drop | 2026-01-28 → ongoing | -12.0% | 0.001 |" in text
    assert text.index(f"## Answer\n\n{ANSWER}\n") < text.index("## Summary")
    assert (
        "| 1 | platform=android, country=IN | -40.0% | 90% | release deploy_003 | 90% "
        "| Android users in India |" in text
    )
    assert "| deployment | deploy_003 | 2026-01-28T10:00:00+00:00 | 85% | app 2.3.0 |" in text
    assert "- Roll back 2.3.0 on Android in IN." in text
    assert "1. **detect_anomaly** (20 ms) — first\n   - DAU dropped 12% from 2026-01-28" in text
    assert "2. **drill_down** — failed (0 ms) — then | pipes\n   - boom" in text
    assert "## Only Android?" in text and "> **Error:** usage limit reached" in text
    assert "*No report: the investigation did not finish.*" in text


def test_plain_text_is_compact() -> None:
    text = report_to_text(record())
    assert text.startswith(f"{ANSWER}\n\n{REPORT['summary']}")
    assert "Anomaly:     dau drop from 2026-01-28 (-12.0%)" in text
    assert (
        "Segment:     platform=android, country=IN -40.0%, 90% of the change (90%) — "
        "release deploy_003\n" in text
    )
    assert "Event:       deployment deploy_003 — app 2.3.0 (85%)" in text
    assert "Follow-up: Only Android?\nNo report (failed: usage limit reached)." in text


def test_a_report_written_before_the_answer_existed_renders_without_one() -> None:
    old = record(answered=False)
    assert old.report is not None and old.report.answer == ""
    assert "## Answer" not in report_to_markdown(old)
    text = report_to_text(old)
    assert text.startswith(REPORT["summary"])
    assert "Segment:     platform=android, country=IN -40.0%, 90% of the change (90%)\n" in text
    assert "| 1 | platform=android, country=IN | -40.0% | 90% | — | 90% |" in report_to_markdown(
        old
    )
