"""Saved investigations: contract-2 JSON files, written atomically, loaded defensively.

A file is written to a temporary file in the target directory, flushed to disk and moved into
place with ``os.replace``, so a crash never leaves a half-written record; a record is never
written onto the warehouse it came from or onto a file that is not a saved record
(:mod:`.safe_write`). Loading refuses anything but a regular file of at most
:data:`MAX_RECORD_BYTES`, corrupt or too deeply nested JSON, non-finite numbers, records from a
newer schema version, wrong shapes and invalid charts, with a one-line :class:`StoreError`, so no
screen ever opens on a record it cannot show; older schema versions are upgraded on load.
"""

from __future__ import annotations

import builtins
import json
import math
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from metric_anomaly_investigator.core.models import (
    SCHEMA_VERSION,
    Chart,
    Direction,
    Event,
    Investigation,
    InvestigationFinished,
    InvestigationStarted,
    ReportReady,
    Status,
    StepCompleted,
    StepFailed,
    StepPlanned,
    UsageUpdated,
    interrupted_error,
)
from metric_anomaly_investigator.core.safe_write import (
    UnsafeWriteError,
    check_target,
    warehouse_paths,
    write_text_atomic,
)

MAX_RECORD_BYTES = 50 * 1024 * 1024
MAX_NESTING = 64  # a record nests about 10 deep; anything far deeper is not one of ours
RECORD_KEYS = ("id", "question", "started_at")  # what makes a JSON object one of our records
HistoryStatus = Status | Literal["interrupted"]


class StoreError(Exception):
    """A saved investigation cannot be read or written; one-line, user-facing message."""


def dump_investigation(record: Investigation) -> str:
    """The record as contract-2 JSON text."""
    return record.model_dump_json(indent=2)


def save_investigation(
    record: Investigation, path: Path | str, *, protect: Iterable[Path] = ()
) -> Path:
    """Write ``record`` to ``path`` atomically (temp file + fsync + ``os.replace``).

    Refused (:class:`StoreError`) onto the record's own warehouse, onto ``protect`` (e.g. the
    config file) and onto an existing file that is not a saved investigation. A replaced file
    keeps its permission bits; a symlink is followed, so the link stays.
    """
    path = Path(path).expanduser()
    try:
        target = check_target(
            path,
            protected=[*warehouse_paths(record.warehouse), *protect],
            replaceable=is_record_file,
            what="saved investigation",
        )
        return write_text_atomic(target, dump_investigation(record))
    except UnsafeWriteError as exc:
        raise StoreError(str(exc)) from None
    except OSError as exc:
        raise StoreError(f"cannot save to {path}: {exc.strerror or exc}") from exc


def read_record_text(path: Path, *, limit: int = MAX_RECORD_BYTES) -> str:
    """The text of a saved record, refusing (never blocking on) anything but a regular file of
    at most ``limit`` bytes: a FIFO, a device such as ``/dev/zero``, a directory."""
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise StoreError(f"{path}: no such file") from exc
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise StoreError(f"{path} is a directory, not a saved investigation")
    try:  # O_NONBLOCK: a file swapped for a FIFO after the stat still cannot block the open
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise StoreError(f"{path} is not a regular file, not a saved investigation")
        if info.st_size > limit:
            raise StoreError(
                f"{path} is too large for a saved investigation "
                f"({info.st_size / 2**20:.0f} MB; the limit is {limit / 2**20:.0f} MB)"
            )
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise StoreError(f"{path} grew past {limit / 2**20:.0f} MB while being read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StoreError(f"{path} is not a text file") from exc


def is_record_file(path: Path) -> bool:
    """Whether ``path`` holds a saved investigation (ours to replace), judged by its content."""
    try:
        raw = _parse_json(read_record_text(path), source=str(path))
    except StoreError:
        return False
    return isinstance(raw, dict) and all(isinstance(raw.get(k), str) for k in RECORD_KEYS)


def _upgrade(raw: dict[str, Any], version: int) -> dict[str, Any]:
    """Bring an older record up to the current schema.

    A record without ``schema_version`` predates versioning; fields added since then have
    defaults, so stamping the current version is the whole upgrade for now.
    """
    return raw if version == SCHEMA_VERSION else {**raw, "schema_version": SCHEMA_VERSION}


class _NonFinite(ValueError):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


def _no_constant(text: str) -> float:
    raise _NonFinite(text)


def _nesting(raw: Any) -> int:
    """How deeply lists and objects nest in parsed JSON (iteratively: no recursion limit)."""
    deepest, stack = 0, [(raw, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                break
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _parse_json(text: str, *, source: str) -> Any:
    """Strict JSON: no NaN/Infinity, no nesting deeper than :data:`MAX_NESTING`."""
    try:
        raw = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise StoreError(f"{source} is not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    except _NonFinite as exc:
        raise StoreError(
            f"{source} holds a non-finite number ({exc}), which no record has"
        ) from exc
    except RecursionError:
        raise StoreError(f"{source} is nested too deeply to be an investigation record") from None
    except ValueError as exc:  # e.g. an integer with thousands of digits
        raise StoreError(f"{source} is not a readable record ({exc})") from exc
    if _nesting(raw) > MAX_NESTING:
        raise StoreError(f"{source} is nested too deeply to be an investigation record")
    return raw


def _first_error(exc: ValidationError, where: str) -> str:
    """``location: message`` of the first validation error (``where`` if it has no location)."""
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc']) or where}: {err['msg']}"


def _runs(record: Investigation) -> Iterator[Investigation]:
    """The record and every follow-up under it, depth first."""
    stack = [record]
    while stack:
        run = stack.pop()
        yield run
        stack.extend(reversed(run.follow_ups))


def _check_charts(record: Investigation, source: str) -> None:
    """Every step chart must be one the chart pane can draw."""
    for run in _runs(record):
        for step in run.steps:
            raw = (step.data or {}).get("chart")
            if not raw:
                continue
            try:
                chart = Chart.model_validate(raw)
            except ValidationError as exc:
                raise StoreError(
                    f"{source}: step {step.index} has an invalid chart "
                    f"({_first_error(exc, 'chart')})"
                ) from None
            for series in chart.series:
                if len(series.x) != len(series.y):
                    raise StoreError(
                        f"{source}: step {step.index} has an invalid chart (series "
                        f"{series.label!r} has {len(series.x)} x and {len(series.y)} y values)"
                    )


def _check_finite(record: Investigation, source: str) -> None:
    """No number of the record may be NaN or infinite once read (text such as "NaN" in a number
    field is coerced to one by validation, past the strict JSON parser)."""
    stack: list[tuple[str, Any]] = [("record", record.model_dump())]
    while stack:
        where, node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            raise StoreError(f"{source} holds a non-finite number at {where}, which no record has")
        if isinstance(node, dict):
            stack.extend((f"{where}.{key}", value) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((f"{where}[{i}]", value) for i, value in enumerate(node))


def is_interrupted(record: Investigation) -> bool:
    """Whether a run of ``record`` was saved mid-way (a checkpoint) and never finished."""
    return any(run.status == "running" for run in _runs(record))


def parse_investigation(text: str, *, source: str = "record") -> Investigation:
    """Parse contract-2 JSON, refusing anything that is not a record this version can read."""
    raw = _parse_json(text, source=source)
    if not isinstance(raw, dict):
        raise StoreError(f"{source} is not an investigation record (expected a JSON object)")
    version = raw.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise StoreError(f"{source} has an invalid schema_version {version!r}")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{source} uses schema version {version}, newer than this version of mai "
            f"(supports up to {SCHEMA_VERSION}): upgrade mai to open it"
        )
    try:
        record = Investigation.model_validate(_upgrade(raw, version))
    except ValidationError as exc:
        raise StoreError(
            f"{source} is not a valid investigation record ({_first_error(exc, 'record')})"
        ) from exc
    _check_finite(record, source)
    _check_charts(record, source)
    return record


def load_investigation(path: Path | str) -> Investigation:
    """Read a saved record; :class:`StoreError` for a missing, special, huge, corrupt or too-new
    file, or one any screen would fail to show."""
    path = Path(path).expanduser()
    return parse_investigation(read_record_text(path), source=str(path))


# --------------------------------------------------------------------------------------------
# The history directory
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedInvestigation:
    """One entry of the history list (enough to show it without loading all steps twice)."""

    path: Path
    id: str
    question: str
    started_at: datetime
    status: HistoryStatus
    direction: Direction | None
    verdict: str | None
    model: str


def file_name(record: Investigation) -> str:
    """``2026-01-30T12-00-00_<id8>.json`` — sortable by start time."""
    return f"{record.started_at.strftime('%Y-%m-%dT%H-%M-%S')}_{record.id[:8]}.json"


class InvestigationStore:
    """Saved investigations in one directory (``Settings.history_dir``).

    A record saved mid-run is listed as ``running`` while this store is the one checkpointing it
    (the app's own live run), and as ``interrupted`` otherwise: its process ended before it did.
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory).expanduser()
        self._live: set[str] = set()

    def save(self, record: Investigation) -> Path:
        """Save (or overwrite) ``record``; returns its path."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {self.directory}: {exc.strerror or exc}") from exc
        existing = self._find(record.id)
        path = save_investigation(record, existing or self.directory / file_name(record))
        if is_interrupted(record):
            self._live.add(record.id)
        else:
            self._live.discard(record.id)
        return path

    def _status(self, record: Investigation) -> HistoryStatus:
        if not is_interrupted(record):
            return record.status
        return "running" if record.id in self._live else "interrupted"

    def list(self) -> builtins.list[SavedInvestigation]:
        """All readable records, newest first; unreadable files are skipped."""
        entries = []
        for path in self._files():
            try:
                record = load_investigation(path)
            except StoreError:
                continue
            report = record.report
            entries.append(
                SavedInvestigation(
                    path=path,
                    id=record.id,
                    question=record.question,
                    started_at=record.started_at,
                    status=self._status(record),
                    direction=report.anomaly.direction if report else None,
                    verdict=report.root_cause if report else None,
                    model=record.model,
                )
            )
        entries.sort(key=lambda e: e.started_at.timestamp(), reverse=True)
        return entries

    def load(self, id_or_path: str | Path) -> Investigation:
        """Load by id (or unique id prefix) or by path."""
        candidate = Path(id_or_path).expanduser()
        if candidate.suffix == ".json" and candidate.exists():
            return load_investigation(candidate)
        path = self._find(str(id_or_path))
        if path is None:
            raise StoreError(f"no saved investigation {id_or_path!s} in {self.directory}")
        return load_investigation(path)

    def delete(self, record_id: str) -> None:
        path = self._find(record_id)
        if path is None:
            raise StoreError(f"no saved investigation {record_id} in {self.directory}")
        path.unlink()

    def _files(self) -> builtins.list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.glob("*.json") if p.is_file())

    def _find(self, record_id: str) -> Path | None:
        """The file holding ``record_id`` (a full id or a unique prefix of at least 8 chars)."""
        if not record_id:
            return None
        prefix = record_id[:8]
        matches = []
        for path in self._files():
            if not path.stem.endswith(f"_{prefix}"):
                continue
            try:
                record = load_investigation(path)
            except StoreError:
                continue
            if record.id.startswith(record_id):
                matches.append(path)
        return matches[0] if len(matches) == 1 else None


# --------------------------------------------------------------------------------------------
# Replay
# --------------------------------------------------------------------------------------------


def replay_events(record: Investigation) -> Iterator[Event]:
    """The orchestrator events that reproduce ``record``, follow-ups included, in order.

    A run saved mid-way (status ``running``) finishes as ``cancelled``, with an error saying it
    was interrupted, so no screen waits for a run that is not running."""
    yield InvestigationStarted(record)
    for step in record.steps:
        yield StepPlanned(step.index, step.action, step.reasoning, dict(step.parameters))
        yield StepCompleted(step) if step.success else StepFailed(step)
    if record.report is not None:
        yield ReportReady(record.report)
    yield UsageUpdated(record.usage)
    if record.status == "running":
        closed = {"status": "cancelled", "error": interrupted_error(record)}
        yield InvestigationFinished(record.model_copy(update=closed))
    else:
        yield InvestigationFinished(record)
    for follow_up in record.follow_ups:
        yield from replay_events(follow_up)
