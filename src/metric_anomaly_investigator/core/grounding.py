"""Is a model's report grounded in what the investigation's steps established?

:func:`check_report` compares every claim a :class:`Report` makes — the metric, each segment
filter, each deployment or event id, the dates and the percent changes — with the steps' typed
outcomes (their parameters, data and findings; a follow-up's earlier steps count too) and with
what the warehouse itself vouches for (:class:`WarehouseFacts`: its metrics, dimension values
and date range). A claim nothing supports is a :class:`Problem`; :attr:`Grounding.message`
names them all in one line, for a retry the model can act on.

Figures are checked where a match is possible at all: a percent change must be within rounding
distance of some percent figure in the steps; with no percent figure anywhere it is not checked.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from ..warehouse.types import WarehouseSchema
from .models import Report, Step
from .report_markdown import format_filters

ClaimKind = Literal["metric", "segment", "event", "date", "figure"]

FIGURE_ABS_TOLERANCE = 1.0  # percentage points: a figure rounded to the unit still matches
FIGURE_REL_TOLERANCE = 0.1  # or within a tenth of the figure it cites
MAX_LISTED = 8  # options named in a problem

# keys of step data and parameters that hold segment filters (dimension -> value)
_FILTER_KEYS = ("filters", "segment", "tested", "group")
_DATE_RE = re.compile(r"\b(\d{4}-\d{2}-\d{2})")
_PERCENT_RE = re.compile(r"([+\-\u2212]?\d+(?:\.\d+)?)%")


@dataclass(frozen=True)
class Problem:
    """One claim of the report that nothing supports."""

    kind: ClaimKind
    claim: str  # e.g. "segment planet=Mars"
    reason: str  # e.g. "does not appear in any step or in the warehouse; segments found: …"

    def __str__(self) -> str:
        return f"{self.claim} {self.reason}"


@dataclass(frozen=True)
class Grounding:
    """The outcome of :func:`check_report`: grounded when there is no problem."""

    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def message(self) -> str:
        """All problems in one line, as the model (and a saved record) sees them."""
        listed = "; ".join(str(p) for p in self.problems)
        return (
            f"The report is not grounded in the findings: {listed}. "
            "Cite only metrics, segments, deployments, dates and figures that the findings show."
        )


@dataclass(frozen=True)
class WarehouseFacts:
    """What the warehouse vouches for: its metrics, dimension values and analysed date range."""

    metrics: frozenset[str]
    values: Mapping[str, frozenset[str]]  # dimension -> its known values
    start: date
    end: date

    @classmethod
    def from_schema(cls, schema: WarehouseSchema) -> WarehouseFacts:
        return cls(
            metrics=frozenset(schema.metrics),
            values={d.name: frozenset(d.values) for d in schema.dimensions},
            start=schema.start_date,
            end=schema.end_date,
        )


@dataclass
class Evidence:
    """What the successful steps established, gathered from their parameters, data, findings."""

    metrics: set[str] = field(default_factory=set)
    segments: dict[str, set[str]] = field(default_factory=dict)  # dimension -> values
    event_ids: set[str] = field(default_factory=set)
    dates: set[date] = field(default_factory=set)
    figures: list[float] = field(default_factory=list)  # percent changes
    text: str = ""  # the findings, for ids cited only in words

    @classmethod
    def from_steps(cls, steps: Iterable[Step]) -> Evidence:
        ev = cls()
        texts: list[str] = []
        for step in steps:
            if not step.success:
                continue
            data = {k: v for k, v in (step.data or {}).items() if k != "chart"}
            for source in (step.parameters, data):
                metric = source.get("metric")
                if isinstance(metric, str):
                    ev.metrics.add(metric)
                ev._collect(source)
            if step.action == "analyze_retention":
                ev.metrics.add("retention")
            blob = json.dumps([step.parameters, data], default=str)
            ev.dates.update(_dates(blob))
            for finding in step.findings:
                texts.append(finding)
                ev.dates.update(_dates(finding))
                ev.figures.extend(_percents(finding))
        ev.text = "\n".join(texts)
        return ev

    def _collect(self, node: Any) -> None:
        """Segments, event ids and percent figures anywhere in a step's parameters or data."""
        for obj in _dicts(node):
            for key in _FILTER_KEYS:
                self._add_filters(obj.get(key))
            segments = obj.get("segments")
            if isinstance(segments, list):
                for seg in segments:
                    self._add_filters(seg)
            dim, rows = obj.get("dimension"), obj.get("rows")
            if isinstance(dim, str) and isinstance(rows, list):
                for row in rows:
                    if isinstance(row, dict) and isinstance(row.get("value"), str):
                        self.segments.setdefault(dim, set()).add(row["value"])
            events = obj.get("events")
            if isinstance(events, list):
                self.event_ids.update(
                    str(e["id"]) for e in events if isinstance(e, dict) and e.get("id") is not None
                )
            for key, value in obj.items():
                if not _is_number(value):
                    continue
                if "pct" in key:
                    self.figures.append(float(value))
                elif key == "rel_diff":
                    self.figures.append(100 * float(value))

    def _add_filters(self, filters: Any) -> None:
        if isinstance(filters, dict):
            for k, v in filters.items():
                if isinstance(k, str) and isinstance(v, str):
                    self.segments.setdefault(k, set()).add(v)

    def segment_list(self) -> list[str]:
        return [f"{k}={v}" for k in sorted(self.segments) for v in sorted(self.segments[k])]


def check_report(report: Report, steps: Sequence[Step], facts: WarehouseFacts) -> Grounding:
    """Every claim of ``report`` that neither ``steps`` nor ``facts`` support, as problems."""
    ev = Evidence.from_steps(steps)
    problems = [
        *_check_metric(report, ev, facts),
        *_check_segments(report, ev, facts),
        *_check_events(report, ev),
        *_check_dates(report, ev, facts),
        *_check_figures(report, ev),
    ]
    return Grounding(tuple(problems))


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------


def _check_metric(report: Report, ev: Evidence, facts: WarehouseFacts) -> Iterator[Problem]:
    metric = report.anomaly.metric
    known = ev.metrics | facts.metrics
    if _fold(metric) not in {_fold(m) for m in known}:
        yield Problem(
            "metric",
            f"metric {metric!r}",
            "was not investigated and is not in the warehouse; metrics: " + _listed(sorted(known)),
        )


def _check_segments(report: Report, ev: Evidence, facts: WarehouseFacts) -> Iterator[Problem]:
    seen: set[tuple[str, str]] = set()
    for segment in report.affected_segments:
        for dim, value in segment.filters.items():
            if (dim, value) in seen:
                continue
            seen.add((dim, value))
            valid = ev.segments.get(dim, set()) | facts.values.get(dim, frozenset())
            if _fold(value) in {_fold(v) for v in valid}:
                continue
            found = ev.segment_list()
            hint = (
                "valid segments found: " + _listed(found)
                if found
                else "dimensions: " + _listed(sorted(facts.values))
            )
            yield Problem(
                "segment",
                f"segment {dim}={value}",
                f"does not appear in any step or in the warehouse; {hint}",
            )


def _check_events(report: Report, ev: Evidence) -> Iterator[Problem]:
    known = {_fold(i) for i in ev.event_ids}
    for event in report.correlated_events:
        if _fold(event.id) in known or _mentions(ev.text, event.id):
            continue
        found = (
            "events found: " + _listed(sorted(ev.event_ids))
            if ev.event_ids
            else "no step found any deployment or event"
        )
        yield Problem("event", f"{event.kind} {event.id}", f"does not appear in any step; {found}")


def _check_dates(report: Report, ev: Evidence, facts: WarehouseFacts) -> Iterator[Problem]:
    claims: list[tuple[str, date]] = []
    a = report.anomaly
    claims += [(f"anomaly {name}", d) for name, d in (("start", a.start), ("end", a.end)) if d]
    for e in report.correlated_events:
        if e.at is not None:
            day = e.at.date() if isinstance(e.at, datetime) else e.at
            claims.append((f"date of {e.id}", day))
    for what, day in claims:
        if facts.start <= day <= facts.end or day in ev.dates:
            continue
        yield Problem(
            "date",
            f"{what} {day}",
            f"is outside the analysed range {facts.start} .. {facts.end} and appears in no step",
        )


def _check_figures(report: Report, ev: Evidence) -> Iterator[Problem]:
    if not ev.figures:
        return
    claims = [("anomaly change", report.anomaly.change_pct)]
    claims += [
        (f"change of {format_filters(s.filters)}", s.change_pct) for s in report.affected_segments
    ]
    for what, value in claims:
        if value is None:
            continue
        if not math.isfinite(value):
            yield Problem("figure", f"{what} {value}", "is not a number")
            continue
        closest = min(ev.figures, key=lambda f: abs(abs(f) - abs(value)))
        if _figure_matches(value, closest):
            continue
        yield Problem(
            "figure",
            f"{what} {value:+.1f}%",
            f"matches no figure in the steps (closest: {closest:+.1f}%)",
        )


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _figure_matches(claimed: float, cited: float) -> bool:
    """Equal up to rounding; the sign may be left to the direction ("dropped 12%")."""
    gap = abs(abs(claimed) - abs(cited))
    return gap <= max(FIGURE_ABS_TOLERANCE, FIGURE_REL_TOLERANCE * abs(cited))


def _dicts(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict nested in ``node`` (itself included), depth first."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _dates(text: str) -> set[date]:
    found = set()
    for match in _DATE_RE.findall(text):
        try:
            found.add(date.fromisoformat(match))
        except ValueError:
            continue
    return found


def _percents(text: str) -> list[float]:
    return [float(m.replace("\u2212", "-")) for m in _PERCENT_RE.findall(text)]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _mentions(text: str, ident: str) -> bool:
    """``ident`` appears in ``text`` as a whole word (not inside a longer id)."""
    if not ident.strip():
        return False
    return re.search(rf"(?<![\w-]){re.escape(ident)}(?![\w-])", text, re.IGNORECASE) is not None


def _fold(text: str) -> str:
    return str(text).strip().casefold()


def _listed(items: Sequence[str]) -> str:
    if not items:
        return "none"
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f", … ({len(items)} in all)" if len(items) > MAX_LISTED else "")
