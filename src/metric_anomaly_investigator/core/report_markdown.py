"""Markdown rendering of an investigation: ``mai investigate --markdown``, the TUI export, and
(compact) the TUI's report pane.

Imports the models only for type checking, so the TUI can use it before its first frame.
Text meant for a terminal goes through :func:`escape_controls`: data values are the user's, and
a raw escape byte in a dimension value must never reach the terminal.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from metric_anomaly_investigator.core.models import (
        AffectedSegment,
        AnomalySummary,
        Investigation,
        Report,
        Step,
    )

CONFIDENCE_BAR_WIDTH = 10
# The third line of every export: ``*completed · model autopilot · warehouse demo.duckdb · …*``.
_EXPORT_BYLINE = re.compile(r"^\*(running|completed|cancelled|failed) · model .* · warehouse .*\*$")
_EXPORT_HEAD_BYTES = 64 * 1024
# C0 and C1 control characters, DEL, line/paragraph separators and bidi overrides.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str, *, keep: str = "\n\t") -> str:
    """``text`` with control characters shown as ``\\x1b`` / ``\\u202e`` (``keep`` stays)."""

    def visible(match: re.Match[str]) -> str:
        char = match.group()
        if char in keep:
            return char
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROLS.sub(visible, text)


def format_pct(value: float | None) -> str:
    """A change already in percent (``change_pct``) as ``-23.4%``."""
    return "—" if value is None else f"{value:+.1f}%"


def format_share(value: float | None) -> str:
    """A fraction (``share_of_change``, ``confidence``) as ``87%``."""
    return "—" if value is None else f"{value:.0%}"


def format_filters(filters: dict[str, str]) -> str:
    """``platform=android, country=IN``; no filters means all traffic."""
    return ", ".join(f"{k}={v}" for k, v in filters.items()) or "all traffic"


def confidence_bar(confidence: float, width: int = CONFIDENCE_BAR_WIDTH) -> str:
    """``████████░░`` for 0.8."""
    filled = round(max(0.0, min(1.0, confidence)) * width)
    return "█" * filled + "░" * (width - filled)


MECHANISM_LABELS: dict[str, str] = {
    "behaviour": "behaviour change",
    "outage": "outage",
    "deployment": "release",
    "instrumentation": "logging",
    "automated_traffic": "automated traffic",
    "calendar": "calendar",
    "cohort": "new cohorts",
    "data_freshness": "late data",
}


def cause_label(seg: AffectedSegment) -> str:
    """How a segment's change came about, as far as the report says: "release deploy_003",
    "logging", "" when nothing is established."""
    words = [MECHANISM_LABELS.get(seg.mechanism, seg.mechanism)] if seg.mechanism else []
    if seg.explained_by:
        words.append(", ".join(seg.explained_by))
    return " ".join(words)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _confidence(report: Report) -> str:
    return f"**Confidence:** `{confidence_bar(report.confidence)}` {report.confidence:.0%}"


def _anomaly_line(a: AnomalySummary) -> str:
    """One sentence: ``dau`` drop of -21.7% from 2026-01-28 onwards (p = 0.0002)."""
    if a.direction == "none":
        return f"**Anomaly:** no change in `{a.metric}` beyond normal variation"
    change = f" of {format_pct(a.change_pct)}" if a.change_pct is not None else ""
    window = ""
    if a.start is not None:
        window = f" from {a.start.isoformat()}" + (
            f" to {a.end.isoformat()}" if a.end else " onwards"
        )
    p = f" (p = {a.p_value:.2g})" if a.p_value is not None else ""
    return f"**Anomaly:** `{a.metric}` {a.direction}{change}{window}{p}"


def compact_report(report: Report, *, level: int = 3) -> str:
    """The report as the TUI's report pane shows it: root cause first, narrow tables."""
    h = "#" * level
    parts = [f"{h} Answer\n\n{report.answer}"] if report.answer else []
    parts += [
        f"{h} Root cause\n\n{report.root_cause}",
        report.summary,
        _anomaly_line(report.anomaly),
    ]
    if report.affected_segments:
        lines = [
            f"{h} Affected segments",
            "",
            "| Segment | Change | Share | Cause | Confidence |",
            "|---|---:|---:|---|---:|",
        ]
        lines += [
            f"| {_cell(format_filters(seg.filters))} | {format_pct(seg.change_pct)} "
            f"| {format_share(seg.share_of_change)} | {_cell(cause_label(seg)) or '—'} "
            f"| {format_share(seg.confidence)} |"
            for seg in report.affected_segments
        ]
        parts.append("\n".join(lines))
    if report.correlated_events:
        lines = [f"{h} Correlated events", ""]
        for ev in report.correlated_events:
            when = f", {ev.at:%Y-%m-%d %H:%M}" if ev.at is not None else ""
            lines.append(
                f"- **{ev.id}** ({ev.kind}{when}) — {ev.description} "
                f"· {ev.confidence:.0%} confident"
            )
        parts.append("\n".join(lines))
    if report.recommendations:
        lines = [f"{h} Recommendations", ""]
        lines += [f"{i}. {rec}" for i, rec in enumerate(report.recommendations, start=1)]
        parts.append("\n".join(lines))
    parts.append(_confidence(report))
    return "\n\n".join(parts) + "\n"


def report_section(report: Report, *, level: int = 2) -> list[str]:
    """The report's Markdown lines (headings at ``level``)."""
    h = "#" * level
    a = report.anomaly
    window = f"{a.start or '?'} → {a.end or 'ongoing'}" if a.start else "—"
    lines = [f"{h} Answer", "", report.answer, ""] if report.answer else []
    lines += [
        f"{h} Summary",
        "",
        report.summary,
        "",
        f"**Root cause:** {report.root_cause}",
        "",
        _confidence(report),
        "",
        f"{h} Anomaly",
        "",
        "| Metric | Direction | Window | Change | p-value |",
        "|---|---|---|---|---|",
        f"| {a.metric} | {a.direction} | {window} | {format_pct(a.change_pct)} | "
        f"{'—' if a.p_value is None else f'{a.p_value:.3g}'} |",
        "",
    ]
    if report.affected_segments:
        lines += [
            f"{h} Affected segments",
            "",
            "| # | Segment | Change | Share of change | Cause | Confidence | Description |",
            "|---|---|---|---|---|---|---|",
        ]
        for i, seg in enumerate(report.affected_segments, 1):
            lines.append(
                f"| {i} | {_cell(format_filters(seg.filters))} | {format_pct(seg.change_pct)} | "
                f"{format_share(seg.share_of_change)} | {_cell(cause_label(seg)) or '—'} | "
                f"{seg.confidence:.0%} | {_cell(seg.description)} |"
            )
        lines.append("")
    if report.correlated_events:
        lines += [
            f"{h} Correlated events",
            "",
            "| Kind | Id | When | Confidence | Description |",
            "|---|---|---|---|---|",
        ]
        for ev in report.correlated_events:
            when = "—" if ev.at is None else ev.at.isoformat()
            lines.append(
                f"| {ev.kind} | {_cell(ev.id)} | {when} | {ev.confidence:.0%} | "
                f"{_cell(ev.description)} |"
            )
        lines.append("")
    if report.recommendations:
        lines += [f"{h} Recommendations", ""]
        lines += [f"- {rec}" for rec in report.recommendations]
        lines.append("")
    return lines


def steps_section(steps: list[Step], *, level: int = 2) -> list[str]:
    """The investigation trail: one numbered item per step with its findings."""
    if not steps:
        return []
    lines = [f"{'#' * level} Steps", ""]
    for step in steps:
        mark = "" if step.success else " — failed"
        lines.append(
            f"{step.index}. **{step.action}**{mark} ({step.duration_ms:.0f} ms) — {step.reasoning}"
        )
        details = step.findings if step.success else [step.error or "unknown error"]
        lines += [f"   - {line}" for line in details]
    lines.append("")
    return lines


def report_to_markdown(record: Investigation) -> str:
    """The whole investigation as a Markdown document, follow-ups included (control
    characters escaped)."""
    return escape_controls(_markdown(record, 1))


def _markdown(record: Investigation, level: int) -> str:
    h = "#" * level
    lines = [
        f"{h} {record.question}",
        "",
        f"*{record.status} · model {record.model} · warehouse {record.warehouse} · "
        f"{record.started_at:%Y-%m-%d %H:%M %Z}*",
        "",
    ]
    if record.error:
        lines += [f"> **Error:** {record.error}", ""]
    if record.report is not None:
        lines += report_section(record.report, level=level + 1)
    elif record.status != "completed":
        lines += ["*No report: the investigation did not finish.*", ""]
    lines += steps_section(record.steps, level=level + 1)
    for follow_up in record.follow_ups:
        lines.append(_markdown(follow_up, level + 1))
    return "\n".join(lines).rstrip() + "\n"


def report_to_text(record: Investigation) -> str:
    """A compact plain-text conclusion for the terminal (``mai investigate``'s default), control
    characters escaped."""
    lines: list[str] = []
    for run in [record, *record.follow_ups]:
        if run is not record:
            lines += ["", f"Follow-up: {run.question}"]
        report = run.report
        if report is None:
            lines.append(f"No report ({run.status}{': ' + run.error if run.error else ''}).")
            continue
        a = report.anomaly
        window = f" from {a.start}" + (f" to {a.end}" if a.end else "") if a.start else ""
        lines += [report.answer, ""] if report.answer else []
        lines += [
            report.summary,
            "",
            f"Anomaly:     {a.metric} {a.direction}{window} ({format_pct(a.change_pct)})",
            f"Root cause:  {report.root_cause}",
            f"Confidence:  {report.confidence:.0%}",
        ]
        for seg in report.affected_segments:
            cause = cause_label(seg)
            lines.append(
                f"Segment:     {format_filters(seg.filters)} {format_pct(seg.change_pct)}, "
                f"{format_share(seg.share_of_change)} of the change ({seg.confidence:.0%})"
                + (f" — {cause}" if cause else "")
            )
        for ev in report.correlated_events:
            lines.append(f"Event:       {ev.kind} {ev.id} — {ev.description} ({ev.confidence:.0%})")
        lines += [f"Next:        {rec}" for rec in report.recommendations]
    return escape_controls("\n".join(lines) + "\n")


def is_markdown_export(path: Path) -> bool:
    """Whether ``path`` holds a report exported by :func:`report_to_markdown` (ours to
    replace), judged by its first lines; only a regular file is ever opened."""
    try:
        if not path.is_file():
            return False
        with open(path, "rb") as fh:
            head = fh.read(_EXPORT_HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return False
    lines = head.splitlines()
    return len(lines) >= 3 and lines[0].startswith("# ") and bool(_EXPORT_BYLINE.match(lines[2]))


def write_export(path: Path, markdown: str, *, warehouse: str) -> Path:
    """Write an exported report atomically: never onto the ``warehouse`` the record came from,
    never onto an existing file that is not an earlier export (``UnsafeWriteError``)."""
    from .safe_write import check_target, warehouse_paths, write_text_atomic

    target = check_target(
        path,
        protected=warehouse_paths(warehouse),
        replaceable=is_markdown_export,
        what="Markdown report exported by mai",
    )
    return write_text_atomic(target, markdown)
