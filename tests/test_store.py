"""Saved investigations: round trip, atomic writes, refusing bad files, history, replay."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


# -- safe loading -------------------------------------------------------------------------------


def write_raw(tmp_path: Path, raw: dict[str, object] | str, name: str = "rec.json") -> Path:
    path = tmp_path / name
    path.write_text(raw if isinstance(raw, str) else json.dumps(raw))
    return path


def raw_record(follow_ups: int = 0) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(record(follow_ups=follow_ups).model_dump_json())
    return raw


def test_deep_nesting_is_refused_without_recursion_error(tmp_path: Path) -> None:
    path = write_raw(tmp_path, "[" * 200_000 + "]" * 200_000)
    with pytest.raises(StoreError, match="nested too deeply"):
        load_investigation(path)
    raw = raw_record()
    deep: Any = 1
    for _ in range(store.MAX_NESTING + 5):  # parses fine, but no record nests like this
        deep = [deep]
    raw["steps"][0]["data"]["table"] = deep
    with pytest.raises(StoreError, match="nested too deeply"):
        load_investigation(write_raw(tmp_path, raw))


def test_a_file_over_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with open(path, "wb") as fh:  # sparse: no disk space, no read needed to refuse it
        fh.truncate(store.MAX_RECORD_BYTES + 1)
    with pytest.raises(StoreError, match=r"too large for a saved investigation .*limit is 50 MB"):
        load_investigation(path)


def test_special_files_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    outcome: list[str] = []

    def load() -> None:
        try:
            load_investigation(fifo)
        except StoreError as exc:
            outcome.append(str(exc))

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert outcome == [f"{fifo} is not a regular file, not a saved investigation"]
    with pytest.raises(StoreError, match="/dev/zero is not a regular file"):
        load_investigation("/dev/zero")
    assert not store.is_record_file(fifo) and not store.is_record_file(Path("/dev/zero"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw["steps"][0].update(duration_ms="NaN"), "non-finite number"),
        (lambda raw: raw["steps"][0].update(duration_ms="1e999"), "non-finite number"),
        (lambda raw: raw["usage"].update(cost_usd="-Infinity"), "non-finite number"),
        (lambda raw: raw["steps"][0].update(duration_ms="1" * 5000), "not a readable record"),
        (  # text in a number field, coerced by validation: still refused
            lambda raw: raw["steps"][0].update(duration_ms="nan"),
            r"non-finite number at record\.steps\[0\]\.duration_ms",
        ),
        (lambda raw: raw["usage"].update(cost_usd="inf"), "non-finite number at record.usage"),
        (
            lambda raw: raw["steps"][0]["data"]["chart"].update(kind="pie"),
            r"step 1 has an invalid chart \(kind: ",
        ),
        (
            lambda raw: raw["steps"][0]["data"].update(chart={"title": "x", "series": "oops"}),
            "step 1 has an invalid chart",
        ),
        (
            lambda raw: raw["steps"][0]["data"]["chart"]["series"].append(
                {"label": "dau", "x": ["2026-01-01", "2026-01-02"], "y": [1.0]}
            ),
            r"series 'dau' has 2 x and 1 y values",
        ),
        (
            lambda raw: raw["follow_ups"][0]["steps"][0]["data"]["chart"].update(highlight=[1]),
            "step 1 has an invalid chart",
        ),
    ],
    ids=[
        "nan",
        "overflow",
        "infinity",
        "huge-int",
        "nan-text",
        "inf-text",
        "kind",
        "series",
        "lengths",
        "follow-up",
    ],
)
def test_records_a_screen_could_not_show_are_refused(
    tmp_path: Path, change: Any, message: str
) -> None:
    raw = raw_record(follow_ups=1)
    change(raw)
    text = json.dumps(raw)
    for literal in ("NaN", "1e999", "-Infinity", "1" * 5000):  # JSON numbers, not strings
        text = text.replace(f'"{literal}"', literal)
    with pytest.raises(StoreError, match=message) as info:
        load_investigation(write_raw(tmp_path, text))
    assert "\n" not in str(info.value)


def test_unknown_fields_survive_a_load_and_save(tmp_path: Path) -> None:
    raw = raw_record()
    raw["x_owner"] = "growth"
    raw["steps"][1]["x_reviewed"] = True
    raw["usage"]["x_budget_usd"] = 2.5
    loaded = load_investigation(write_raw(tmp_path, raw))
    saved = json.loads(save_investigation(loaded, tmp_path / "rec.json").read_text())
    assert saved["x_owner"] == "growth"
    assert saved["steps"][1]["x_reviewed"] is True
    assert saved["usage"]["x_budget_usd"] == 2.5


def test_a_new_file_gets_the_umask_mode(tmp_path: Path) -> None:
    for umask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        previous = os.umask(umask)
        try:
            path = save_investigation(record(), tmp_path / f"inv-{umask:o}.json")
        finally:
            os.umask(previous)
        assert stat.S_IMODE(path.stat().st_mode) == mode, oct(umask)


def test_a_save_keeps_the_mode_and_refuses_foreign_files(tmp_path: Path) -> None:
    path = save_investigation(record(), tmp_path / "inv.json")
    path.chmod(0o640)
    save_investigation(record(rid="f" * 32), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and load_investigation(path).id == "f" * 32
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    with pytest.raises(StoreError, match="not a saved investigation"):
        save_investigation(record(), notes)
    assert notes.read_text() == "keep me"
    warehouse = tmp_path / "shop.duckdb"
    warehouse.write_bytes(b"\0" * 8 + b"DUCK")
    with pytest.raises(StoreError, match="part of the warehouse"):
        save_investigation(record().model_copy(update={"warehouse": str(warehouse)}), warehouse)


def test_history_shows_a_run_saved_mid_way_as_interrupted(tmp_path: Path) -> None:
    app = InvestigationStore(tmp_path / "history")  # the app that checkpoints its runs
    done = record("aaaaaaaa" + "0" * 24, hour=9)
    killed = record("bbbbbbbb" + "0" * 24, hour=10, follow_ups=1)
    killed.follow_ups[0].status = "running"  # a checkpoint of a follow-up, not finished yet
    app.save(done)
    app.save(killed)
    assert store.is_interrupted(killed) and not store.is_interrupted(done)
    assert [(e.id[:8], e.status) for e in app.list()] == [
        ("bbbbbbbb", "running"),  # its own live run
        ("aaaaaaaa", "completed"),
    ]
    after_a_kill = InvestigationStore(app.directory)  # the next process
    assert [e.status for e in after_a_kill.list()] == ["interrupted", "completed"]
    killed.follow_ups[0].status = "completed"
    app.save(killed)
    assert [e.status for e in app.list()] == ["completed", "completed"]


def test_text_output_escapes_control_characters() -> None:
    from metric_anomaly_investigator.core.report_markdown import (
        escape_controls,
        report_to_markdown,
        report_to_text,
    )

    assert (
        escape_controls("a\x1b[31mred\x07\tb\nc\u202e\x9b")
        == "a\\x1b[31mred\\x07\tb\nc\\u202e\\x9b"
    )
    assert escape_controls("one\ntwo", keep="") == "one\\x0atwo"
    rec = record()
    assert rec.report is not None
    rec.report.affected_segments[0].filters = {"country": "\x1b[31mIN"}
    rec.steps[0].findings = ["\x1b]0;pwned\x07 DAU dropped"]
    for text in (report_to_text(rec), report_to_markdown(rec)):
        assert "\x1b" not in text and "\x07" not in text
        assert "country=\\x1b[31mIN" in text
    assert "\\x1b]0;pwned\\x07 DAU dropped" in report_to_markdown(rec)


def test_replay_finishes_an_interrupted_run_as_cancelled() -> None:
    rec = record()
    rec.status, rec.report, rec.finished_at = "running", None, None
    last = list(replay_events(rec))[-1]
    assert isinstance(last, InvestigationFinished)
    assert last.investigation.status == "cancelled"
    assert last.investigation.error == "interrupted after 2 steps, before a report"
    assert last.investigation.steps == rec.steps and rec.status == "running"
