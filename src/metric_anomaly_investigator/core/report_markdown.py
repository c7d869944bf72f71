"""Markdown rendering of an investigation (``mai investigate --markdown`` and the TUI export)."""

from __future__ import annotations

from metric_anomaly_investigator.core.models import Investigation, Report, Step


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f}%"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _filters(filters: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in filters.items()) or "all"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def report_section(report: Report, *, level: int = 2) -> list[str]:
    """The report's Markdown lines (headings at ``level``)."""
    h = "#" * level
    a = report.anomaly
    window = f"{a.start or '?'} → {a.end or 'ongoing'}" if a.start else "—"
    lines = [
        f"{h} Summary",
        "",
        report.summary,
        "",
        f"**Root cause:** {report.root_cause}",
        "",
        f"**Confidence:** {report.confidence:.0%}",
        "",
        f"{h} Anomaly",
        "",
        "| Metric | Direction | Window | Change | p-value |",
        "|---|---|---|---|---|",
        f"| {a.metric} | {a.direction} | {window} | {_pct(a.change_pct)} | "
        f"{'—' if a.p_value is None else f'{a.p_value:.3g}'} |",
        "",
    ]
    if report.affected_segments:
        lines += [
            f"{h} Affected segments",
            "",
            "| # | Segment | Change | Share of change | Confidence | Description |",
            "|---|---|---|---|---|---|",
        ]
        for i, seg in enumerate(report.affected_segments, 1):
            lines.append(
                f"| {i} | {_cell(_filters(seg.filters))} | {_pct(seg.change_pct)} | "
                f"{_share(seg.share_of_change)} | {seg.confidence:.0%} | {_cell(seg.description)} |"
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


def report_to_markdown(record: Investigation, *, level: int = 1) -> str:
    """The whole investigation as a Markdown document, follow-ups included."""
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
        lines.append(report_to_markdown(follow_up, level=level + 1))
    return "\n".join(lines).rstrip() + "\n"


def report_to_text(record: Investigation) -> str:
    """A compact plain-text conclusion for the terminal (``mai investigate``'s default)."""
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
        lines += [
            report.summary,
            "",
            f"Anomaly:     {a.metric} {a.direction}{window} ({_pct(a.change_pct)})",
            f"Root cause:  {report.root_cause}",
            f"Confidence:  {report.confidence:.0%}",
        ]
        for seg in report.affected_segments:
            lines.append(
                f"Segment:     {_filters(seg.filters)} {_pct(seg.change_pct)}, "
                f"{_share(seg.share_of_change)} of the change ({seg.confidence:.0%})"
            )
        for ev in report.correlated_events:
            lines.append(f"Event:       {ev.kind} {ev.id} — {ev.description} ({ev.confidence:.0%})")
        lines += [f"Next:        {rec}" for rec in report.recommendations]
    return "\n".join(lines) + "\n"
