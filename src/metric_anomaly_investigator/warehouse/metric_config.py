"""The user's own metrics: the ``[metrics.NAME]`` tables of the TOML config, checked against the
events' columns and turned into catalogue records (:class:`~.metrics.Metric`).

Declarative and SQL-free; one of these forms per metric (``where`` filters on column values)::

    [metrics.revenue]
    sum = "amount"                                   # optional: where = {event_type = "purchase"}
    [metrics.p_latency]
    mean = "latency_ms"                              # a ratio of sums: sum / events
    [metrics.signups]
    count = "events"                                 # or "users" (distinct); where = {…}
    [metrics.checkout_conversion]
    numerator = {event_type = "purchase"}
    denominator = {event_type = "checkout_started"}
    per = "user"                                     # distinct users ("event": events)
    [metrics.average_order]
    numerator = "amount"                             # a ratio of two column sums
    denominator = "orders"

Optional keys: ``label``, ``synonyms`` (words for the question parser), ``bad`` (``"drop"`` or
``"spike"``), ``unit``, ``decimals``. A definition names columns, never other metrics, so no
definition can be cyclic. Every mistake is one line naming the key and the valid choices. On a
pre-aggregated table (no ``user_id``: rows are totals, not events) only sums of its measure
columns and ratios of two such sums can be defined; counts of events or users cannot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from itertools import combinations
from pathlib import Path
from typing import Any

import ibis.expr.datatypes as dt

from .metrics import BUILTIN, SUGGESTED, Aggregate, Direction, Measure, Metric, MetricKind
from .types import WarehouseError, show_name

CONFIG_NAME = "mai.toml"
_FORMS = ("sum", "mean", "count", "numerator")
_KEYS = (
    *_FORMS,
    "where",
    "denominator",
    "per",
    "label",
    "synonyms",
    "bad",
    "unit",
    "decimals",
)
_BAD = ("drop", "spike")
MAX_SUGGESTED_PAIRS = 3  # measures of a pre-aggregated table paired into suggested ratios
METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_RESERVED = frozenset({"event_timestamp"})


def find_config(source: str | Path | None) -> Path | None:
    """The ``mai.toml`` next to the warehouse (in its directory, or beside its file), else in
    the current directory, if there is one."""
    places: list[Path] = []
    if source is not None and "://" not in str(source):
        path = Path(source)
        places.append(path / CONFIG_NAME if path.is_dir() else path.parent / CONFIG_NAME)
    places.append(Path.cwd() / CONFIG_NAME)
    return next((p for p in places if p.is_file()), None)


def define_metrics(
    section: object,
    columns: Mapping[str, dt.DataType],
    where: str,
    aggregates: Mapping[str, dt.DataType] | None = None,
) -> list[Metric]:
    """The metrics of a ``[metrics]`` section (``where`` names the file in errors), each
    validated against the table it reads: ``aggregates`` (the columns of a pre-aggregated table
    beside the events) when a column it names by itself is only there, else the events'."""
    if not section:
        return []
    if not isinstance(section, dict):
        raise WarehouseError(f"In {where}, [metrics] must hold tables like [metrics.revenue].")
    taken = {m.name for m in BUILTIN}
    out: list[Metric] = []
    for name, body in section.items():
        _check_name(name, taken, where)
        taken.add(name)
        if not isinstance(body, dict):
            raise WarehouseError(f"In {where}, [metrics.{name}] must be a table of keys.")
        at = f"In {where}, [metrics.{name}]"
        if aggregates is not None and _reads_aggregates(body, aggregates, columns):
            out.append(replace(_define(name, body, aggregates, at), table="aggregates"))
        else:
            out.append(_define(name, body, columns, at))
    return out


def _reads_aggregates(
    body: dict[str, Any],
    aggregates: Mapping[str, dt.DataType],
    events: Mapping[str, dt.DataType],
) -> bool:
    """Whether a column the definition names by itself (sum, mean, numerator or denominator as
    a name) is one of the pre-aggregated table's and not one of the events'."""
    keys = ("sum", "mean", "numerator", "denominator")
    named = [v for k in keys if isinstance(v := body.get(k), str)]
    return any(c in aggregates and c not in events for c in named)


def _check_name(name: str, taken: set[str], where: str) -> None:
    if not METRIC_NAME.match(name):
        raise WarehouseError(
            f"In {where}, the metric name {show_name(name)} is not valid: use lower-case "
            "letters, digits and _ (e.g. checkout_conversion)."
        )
    if name in taken:
        raise WarehouseError(
            f"In {where}, [metrics.{name}] is a duplicate name: {name} is already a metric "
            f"(taken: {', '.join(sorted(taken))})."
        )


def _define(name: str, body: dict[str, Any], columns: Mapping[str, dt.DataType], at: str) -> Metric:
    unknown = [k for k in body if k not in _KEYS]
    if unknown:
        raise WarehouseError(
            f"{at}: unknown key {show_name(unknown[0])}. Valid keys: {', '.join(_KEYS)}."
        )
    forms = [k for k in _FORMS if k in body]
    if len(forms) != 1:
        raise WarehouseError(
            f"{at} needs exactly one of: sum, mean, count, numerator (with denominator); "
            f"got {', '.join(forms) or 'none'}."
        )
    form = forms[0]
    if form != "numerator" and ("per" in body or "denominator" in body):
        raise WarehouseError(f"{at}: per and denominator go with numerator, not with {form}.")
    where = _filters(body["where"], columns, f"{at} where") if "where" in body else ()
    kind: MetricKind
    den: Aggregate | None = None
    if form in ("sum", "mean"):
        col = _numeric(body[form], columns, f"{at} {form}")
        num = Aggregate("sum", col, where)
        kind = "sum"
        if form == "mean":
            kind, den = "mean", Aggregate("events", where=where)
    elif form == "count":
        what = _choice(body["count"], ("events", "users"), f"{at} count")
        num = Aggregate("events" if what == "events" else "users", where=where)
        kind = "count" if what == "events" else "distinct_users"
    elif "denominator" not in body:
        raise WarehouseError(f"{at}: a numerator needs a denominator = {{column = value}}.")
    elif "where" in body:
        raise WarehouseError(f"{at}: put filters in numerator and denominator, not where.")
    elif isinstance(body["numerator"], str):  # a ratio of two column sums
        if "per" in body:
            raise WarehouseError(f"{at}: per goes with filter numerators, not column sums.")
        num = Aggregate("sum", _numeric(body["numerator"], columns, f"{at} numerator"))
        den_col = body["denominator"]
        den = Aggregate("sum", _numeric(den_col, columns, f"{at} denominator"))
        kind = "ratio"
    else:
        per = _choice(body.get("per", "event"), ("event", "user"), f"{at} per")
        measure: Measure = "users" if per == "user" else "events"
        num = Aggregate(measure, where=_filters(body["numerator"], columns, f"{at} numerator"))
        den_where = body["denominator"]
        den = Aggregate(
            measure, where=_filters(den_where, columns, f"{at} denominator", allow_empty=True)
        )
        kind = "ratio"
    sides = (num,) if den is None else (num, den)
    if "user_id" not in columns and any(a.measure != "sum" for a in sides):
        raise WarehouseError(
            f"{at} counts events or users, which a pre-aggregated table cannot give (its rows "
            'are totals, not events): use sum = "column", or numerator = "column" with '
            'denominator = "column".'
        )
    bad: Direction = (
        "spike" if _choice(body.get("bad", "drop"), _BAD, f"{at} bad") == "spike" else "drop"
    )
    return Metric(
        name=name,
        label=_text(body.get("label", name.replace("_", " ")), f"{at} label"),
        kind=kind,
        numerator=num,
        denominator=den,
        synonyms=tuple(_words(body.get("synonyms", []), f"{at} synonyms")),
        bad_direction=bad,
        unit=_text(body.get("unit", ""), f"{at} unit"),
        decimals=_decimals(body.get("decimals", 2 if den is not None else 0), f"{at} decimals"),
    )


def _usable(columns: Mapping[str, dt.DataType]) -> list[str]:
    return [c for c in columns if c not in _RESERVED]


def _numeric(value: object, columns: Mapping[str, dt.DataType], at: str) -> str:
    numeric = [c for c in _usable(columns) if columns[c].is_numeric() and c != "user_id"]
    valid = ", ".join(numeric) or "(none)"
    if not isinstance(value, str) or value not in columns or value in _RESERVED:
        raise WarehouseError(
            f"{at}: unknown column {show_name(value)}. Valid numeric columns: {valid}."
        )
    if value not in numeric:
        raise WarehouseError(
            f"{at}: column {show_name(value)} is {columns[value]}, not a number. "
            f"Valid numeric columns: {valid}."
        )
    return value


def _filters(
    value: object, columns: Mapping[str, dt.DataType], at: str, *, allow_empty: bool = False
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    valid = ", ".join(_usable(columns))
    if not isinstance(value, dict):
        raise WarehouseError(f'{at} must be a table like {{event_type = "purchase"}}.')
    if not value and not allow_empty:
        raise WarehouseError(
            f'{at} is an empty filter: give column = value, e.g. {{event_type = "purchase"}}. '
            f"Columns: {valid}."
        )
    out = []
    for col, raw in value.items():
        if col not in columns or col in _RESERVED:
            raise WarehouseError(f"{at}: unknown column {show_name(col)}. Columns: {valid}.")
        values = raw if isinstance(raw, list) else [raw]
        if not values or not all(isinstance(v, str | int | bool) for v in values):
            raise WarehouseError(
                f"{at}: {col} must be a value or a list of values (text or whole numbers)."
            )
        out.append((col, tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in values)))
    return tuple(out)


def _choice(value: object, valid: tuple[str, ...], at: str) -> str:
    if value not in valid:
        raise WarehouseError(f"{at} must be one of: {', '.join(valid)}; got {show_name(value)}.")
    return str(value)


def _text(value: object, at: str) -> str:
    if not isinstance(value, str):
        raise WarehouseError(f"{at} must be text in quotes.")
    return value


def _words(value: object, at: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise WarehouseError(f'{at} must be a list of words, e.g. ["sales", "income"].')
    return [v.strip().lower() for v in value]


def _decimals(value: object, at: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 6:
        raise WarehouseError(f"{at} must be a whole number from 0 to 6.")
    return value


def suggestions(
    columns: Mapping[str, dt.DataType], event_types: list[str], have: list[str]
) -> list[str]:
    """TOML definitions worth adding for this data (numeric event columns, event types), one
    ``[metrics.NAME]`` table each, leaving out the names ``have`` already."""
    found: list[tuple[str, str]] = []
    numeric = [c for c in _usable(columns) if c != "user_id" and columns[c].is_numeric()]
    if "user_id" not in columns:  # a pre-aggregated table: its measures are metrics already
        pairs = combinations(numeric[:MAX_SUGGESTED_PAIRS], 2)
        found += [(f"{a}_per_{b}", f'numerator = "{a}"\ndenominator = "{b}"') for a, b in pairs]
    else:
        for col in numeric:
            found += [(f"{col}_total", f'sum = "{col}"'), (f"{col}_mean", f'mean = "{col}"')]
    types = set(event_types)
    for m in SUGGESTED:
        if m.kind == "ratio" and m.denominator is not None:
            wanted = {v[0] for a in m.sides for _, v in a.where}
            if wanted and wanted <= types:
                found.append((m.name, toml_body(m)))
    for t in event_types[:5]:
        found.append((f"{_slug(t)}_events", f'count = "events"\nwhere = {{event_type = "{t}"}}'))
    return [f"[metrics.{name}]\n{body}" for name, body in found if name not in have]


def toml_body(m: Metric) -> str:
    """The keys defining ``m`` in its ``[metrics.NAME]`` table (one per line)."""
    num, den = m.numerator, m.denominator
    where = [f"where = {_inline(num)}"] if num.where and m.kind != "ratio" else []
    if m.kind in ("sum", "mean"):
        return "\n".join([f'{m.kind} = "{num.column}"', *where])
    if den is None:
        return "\n".join([f'count = "{num.measure}"', *where])
    if num.measure == "sum" and den.measure == "sum":
        return f'numerator = "{num.column}"\ndenominator = "{den.column}"'
    per = "user" if num.measure == "users" else "event"
    return f'numerator = {_inline(num)}\ndenominator = {_inline(den)}\nper = "{per}"'


def _inline(a: Aggregate) -> str:
    return "{" + ", ".join(f'{c} = "{v[0]}"' for c, v in a.where) + "}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "type"


def describe(metrics: list[Metric], suggested: list[str]) -> list[str]:
    """``mai data metrics``: every metric with its definition (and the table it reads, when the
    metrics come from more than one), then definitions to add."""
    width = max((len(m.name) for m in metrics), default=4)
    tables = len({m.table for m in metrics}) > 1
    twidth = max(len("TABLE"), *(len(m.table) for m in metrics)) if tables else 0
    column = (lambda text: f"{text:<{twidth}}  ") if tables else (lambda text: "")
    lines = [f"{'METRIC':<{width}}  {column('TABLE')}DEFINITION"]
    for m in metrics:
        bad = "a spike" if m.bad_direction == "spike" else "a drop"
        lines.append(
            f"{m.name:<{width}}  {column(m.table)}{m.label}: {m.definition()}; {bad} is bad"
        )
    if suggested:
        lines += ["", f"Definitions you could add to {CONFIG_NAME} (see README, Your metrics):"]
        for block in suggested:
            lines += [f"  {line}" for line in block.splitlines()]
    return lines
