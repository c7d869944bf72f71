"""Saved investigations: round trip, atomic writes, refusing bad files, history, replay."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from engine_fakes import REPORT

from metric_anomaly_investigator.core import store
from metric_anomaly_investigator.core.models import (
    Investigation,
    InvestigationFinished,
    InvestigationStarted,
    Report,
    ReportReady,
    Step,
    StepCompleted,
    StepFailed,
    StepPlanned,
    Usage,
    UsageUpdated,
)
from metric_anomaly_investigator.core.store import (
    InvestigationStore,
    StoreError,
    load_investigation,
    replay_events,
    save_investigation,
)


def record(
    rid: str = "0123456789abcdef0123456789abcdef", *, hour: int = 12, follow_ups: int = 0
) -> Investigation:
    steps = [
        Step(
            index=1,
            action="detect_anomaly",
            reasoning="first",
            parameters={"metric": "dau"},
            success=True,
            findings=["DAU dropped 12%"],
            data={"chart": {"title": "DAU", "kind": "line", "series": []}, "change_pct": -12.0},
            duration_ms=12.5,
        ),
        Step(
            index=2,
            action="drill_down",
            reasoning="second",
            parameters={"metric": "dau"},
            success=False,
            error="boom",
        ),
    ]
    rec = Investigation(
        id=rid,
        question="Why did DAU drop?",
        model="autopilot",
        warehouse="demo.duckdb",
        started_at=datetime(2026, 1, 30, hour, 0, tzinfo=UTC),
        finished_at=datetime(2026, 1, 30, hour, 1, tzinfo=UTC),
        status="completed",
        steps=steps,
        report=Report.model_validate(REPORT),
        usage=Usage(requests=4, input_tokens=100, output_tokens=20, cost_usd=0.0),
    )
    for n in range(follow_ups):
        follow = record(f"f{n}" + rid[2:], hour=hour)
        follow.question = f"follow {n}"
        rec.follow_ups.append(follow)
    return rec


def test_round_trip_preserves_the_record(tmp_path: Path) -> None:
    rec = record(follow_ups=1)
    path = save_investigation(rec, tmp_path / "inv.json")
    loaded = load_investigation(path)
    assert loaded == rec
    assert loaded.steps[0].chart is not None and loaded.steps[0].chart.title == "DAU"
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == 1
    assert set(raw) >= {"id", "question", "model", "warehouse", "status", "steps", "report"}
    assert raw["report"]["anomaly"]["start"] == "2026-01-28"


def test_failed_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "inv.json"
    save_investigation(record(), target)
    before = target.read_text()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "fsync", broken_fsync)
    with pytest.raises(StoreError, match="No space left on device"):
        save_investigation(record(rid="ffffffffffffffffffffffffffffffff"), target)
    assert target.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["inv.json"]


def test_save_into_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        save_investigation(record(), tmp_path / "nope" / "inv.json")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"schema_version": 99, "id": "x"}', "schema version 99, newer than"),
        ('{"schema_version": "one"}', "invalid schema_version"),
        ('{"schema_version": 1, "id": "x"}', "is not a valid investigation record"),
    ],
)
def test_bad_files_are_refused_with_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(StoreError, match=message) as info:
        load_investigation(path)
    assert "\n" not in str(info.value)


def test_missing_file_and_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such file"):
        load_investigation(tmp_path / "missing.json")
    with pytest.raises(StoreError, match="is a directory"):
        load_investigation(tmp_path)


def test_a_record_from_before_versioning_loads(tmp_path: Path) -> None:
    raw = json.loads(record().model_dump_json())
    for key in ("schema_version", "follow_ups", "error", "usage"):
        raw.pop(key)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(raw))
    loaded = load_investigation(path)
    assert loaded.schema_version == 1
    assert loaded.follow_ups == [] and loaded.usage == Usage()


def test_history_directory(tmp_path: Path) -> None:
    history = InvestigationStore(tmp_path / "history")
    assert history.list() == []
    older = record("aaaaaaaa" + "0" * 24, hour=9)
    newer = record("bbbbbbbb" + "0" * 24, hour=15)
    path = history.save(older)
    assert path.name == "2026-01-30T09-00-00_aaaaaaaa.json"
    history.save(newer)
    (history.directory / "2026-01-30T20-00-00_cccccccc.json").write_text("{corrupt")

    entries = history.list()
    assert [e.id for e in entries] == [newer.id, older.id]
    assert entries[0].direction == "drop" and entries[0].model == "autopilot"
    assert entries[0].verdict == REPORT["root_cause"]

    older.status = "cancelled"
    assert history.save(older) == path  # overwrite in place
    assert history.load("aaaaaaaa").status == "cancelled"
    assert history.load(path).id == older.id
    history.delete(older.id)
    assert [e.id for e in history.list()] == [newer.id]
    with pytest.raises(StoreError, match="no saved investigation"):
        history.load(older.id)
    with pytest.raises(StoreError, match="no saved investigation"):
        history.delete(older.id)


def test_unwritable_history_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot create"):
        InvestigationStore(blocker / "history").save(record())


def test_replay_events_reproduce_the_record() -> None:
    rec = record(follow_ups=1)
    events = list(replay_events(rec))
    kinds = [type(e) for e in events]
    one_run = [
        InvestigationStarted,
        StepPlanned,
        StepCompleted,
        StepPlanned,
        StepFailed,
        ReportReady,
        UsageUpdated,
        InvestigationFinished,
    ]
    assert kinds == one_run * 2
    planned = events[1]
    assert isinstance(planned, StepPlanned)
    assert (planned.index, planned.action, planned.parameters) == (
        1,
        "detect_anomaly",
        {"metric": "dau"},
    )
    last = events[-1]
    assert isinstance(last, InvestigationFinished) and last.investigation is rec.follow_ups[0]


def test_atomic_write_uses_replace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str, dst: str | Path) -> None:
        calls.append((Path(src).name, Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", spy)
    save_investigation(record(), tmp_path / "inv.json")
    assert len(calls) == 1 and calls[0][0].startswith(".inv.json.") and calls[0][1] == "inv.json"
