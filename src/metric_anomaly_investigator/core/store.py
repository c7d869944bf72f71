"""Saved investigations: contract-2 JSON files, written atomically, loaded defensively.

A file is written to a temporary file in the target directory, flushed to disk and moved into
place with ``os.replace``, so a crash never leaves a half-written record. Loading refuses
corrupt JSON, records from a newer schema version and wrong shapes with a one-line
:class:`StoreError`; older schema versions are upgraded on load.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from metric_anomaly_investigator.core.models import (
    SCHEMA_VERSION,
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
)


class StoreError(Exception):
    """A saved investigation cannot be read or written; one-line, user-facing message."""


def dump_investigation(record: Investigation) -> str:
    """The record as contract-2 JSON text."""
    return record.model_dump_json(indent=2)


def save_investigation(record: Investigation, path: Path | str) -> Path:
    """Write ``record`` to ``path`` atomically (temp file + fsync + ``os.replace``)."""
    path = Path(path).expanduser()
    directory = path.parent
    if not directory.is_dir():
        raise StoreError(f"cannot save to {path}: directory {directory} does not exist")
    text = dump_investigation(record)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise StoreError(f"cannot save to {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError):
            raise StoreError(f"cannot save to {path}: {exc.strerror or exc}") from exc
        raise
    return path


def _upgrade(raw: dict[str, Any], version: int) -> dict[str, Any]:
    """Bring an older record up to the current schema.

    A record without ``schema_version`` predates versioning; fields added since then have
    defaults, so stamping the current version is the whole upgrade for now.
    """
    return raw if version == SCHEMA_VERSION else {**raw, "schema_version": SCHEMA_VERSION}


def parse_investigation(text: str, *, source: str = "record") -> Investigation:
    """Parse contract-2 JSON, refusing anything that is not a record this version can read."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(f"{source} is not valid JSON (line {exc.lineno}: {exc.msg})") from exc
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
        return Investigation.model_validate(_upgrade(raw, version))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "record"
        raise StoreError(
            f"{source} is not a valid investigation record ({where}: {err['msg']})"
        ) from exc


def load_investigation(path: Path | str) -> Investigation:
    """Read a saved record; :class:`StoreError` for a missing, corrupt or too-new file."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise StoreError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise StoreError(f"{path} is a directory, not a saved investigation") from exc
    except UnicodeDecodeError as exc:
        raise StoreError(f"{path} is not a text file") from exc
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return parse_investigation(text, source=str(path))


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
    status: Status
    direction: Direction | None
    verdict: str | None
    model: str


def file_name(record: Investigation) -> str:
    """``2026-01-30T12-00-00_<id8>.json`` — sortable by start time."""
    return f"{record.started_at.strftime('%Y-%m-%dT%H-%M-%S')}_{record.id[:8]}.json"


class InvestigationStore:
    """Saved investigations in one directory (``Settings.history_dir``)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory).expanduser()

    def save(self, record: Investigation) -> Path:
        """Save (or overwrite) ``record``; returns its path."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {self.directory}: {exc.strerror or exc}") from exc
        existing = self._find(record.id)
        return save_investigation(record, existing or self.directory / file_name(record))

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
                    status=record.status,
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
    """The orchestrator events that reproduce ``record``, follow-ups included, in order."""
    yield InvestigationStarted(record)
    for step in record.steps:
        yield StepPlanned(step.index, step.action, step.reasoning, dict(step.parameters))
        yield StepCompleted(step) if step.success else StepFailed(step)
    if record.report is not None:
        yield ReportReady(record.report)
    yield UsageUpdated(record.usage)
    yield InvestigationFinished(record)
    for follow_up in record.follow_ups:
        yield from replay_events(follow_up)
