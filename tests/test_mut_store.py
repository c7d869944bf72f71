"""core.store: file names, the history list, lookup by id prefix, and exact refusal messages."""

from __future__ import annotations

import json
import os
import socket
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_store import record

from metric_anomaly_investigator.core.models import (
    SCHEMA_VERSION,
    ReportReady,
    StepCompleted,
    StepFailed,
)
from metric_anomaly_investigator.core.store import (
    MAX_NESTING,
    InvestigationStore,
    StoreError,
    _nesting,
    dump_investigation,
    file_name,
    is_interrupted,
    is_record_file,
    load_investigation,
    parse_investigation,
    read_record_text,
    replay_events,
)

RID = "0123456789abcdef0123456789abcdef"


def test_file_name_sorts_by_start_time() -> None:
    assert file_name(record(RID, hour=9)) == "2026-01-30T09-00-00_01234567.json"


def test_history_lists_newest_first_with_its_verdict(tmp_path: Path) -> None:
    store = InvestigationStore(tmp_path / "history")
    old, new = record("aaaaaaaa" + RID[8:], hour=9), record("bbbbbbbb" + RID[8:], hour=15)
    new.status = "running"
    old_path, new_path = store.save(old), store.save(new)
    assert old_path == tmp_path / "history" / "2026-01-30T09-00-00_aaaaaaaa.json"
    (tmp_path / "history" / "notes.json").write_text("[1, 2]")  # not a record: skipped
    entries = InvestigationStore(tmp_path / "history").list()  # read by another process
    assert [(e.id, e.path, e.status) for e in entries] == [
        (new.id, new_path, "interrupted"),
        (old.id, old_path, "completed"),
    ]
    assert [e.status for e in store.list()] == ["running", "completed"]  # still being saved
    e = entries[1]
    assert (e.question, e.model, e.started_at) == (
        "Why did DAU drop?",
        "autopilot",
        datetime(2026, 1, 30, 9, tzinfo=UTC),
    )
    assert old.report is not None
    assert (e.direction, e.verdict) == (old.report.anomaly.direction, old.report.root_cause)


def test_load_and_delete_by_id_prefix(tmp_path: Path) -> None:
    store = InvestigationStore(tmp_path)
    a, b = record("abcdef01" + "1" * 24), record("abcdef01" + "2" * 24, hour=13)
    path_a = store.save(a)
    assert store.load("abcdef01") == a
    assert store.load(a.id) == a and store.load(path_a) == a
    assert store.save(a) == path_a  # saved again in place
    store.save(b)
    with pytest.raises(StoreError, match=f"no saved investigation abcdef01 in {tmp_path}"):
        store.load("abcdef01")  # ambiguous
    assert store.load("abcdef012") == b
    with pytest.raises(StoreError, match="no saved investigation "):
        store.load("")
    store.delete(a.id)
    assert [e.id for e in store.list()] == [b.id]
    with pytest.raises(StoreError, match=f"no saved investigation {a.id} in "):
        store.delete(a.id)
    assert InvestigationStore(tmp_path / "none").list() == []


def test_is_interrupted_looks_into_follow_ups() -> None:
    rec = record(RID, follow_ups=2)
    assert not is_interrupted(rec)
    rec.follow_ups[1].status = "running"
    assert is_interrupted(rec)


def test_a_record_file_is_known_by_its_keys(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"id": "x", "question": "q", "started_at": "2026-01-01"}))
    assert is_record_file(good)
    for name, content in [
        ("list.json", "[]"),
        ("partial.json", json.dumps({"id": "x", "question": "q"})),
        ("typed.json", json.dumps({"id": 1, "question": "q", "started_at": "2026-01-01"})),
        ("bad.json", "{nope"),
    ]:
        (tmp_path / name).write_text(content)
        assert not is_record_file(tmp_path / name), name
    assert not is_record_file(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1]", "r is not an investigation record (expected a JSON object)"),
        ('{"schema_version": "2"}', "r has an invalid schema_version '2'"),
        ('{"schema_version": true}', "r has an invalid schema_version True"),
        ('{"x": 1.5e999}', "r holds a non-finite number (1.5e999), which no record has"),
        ('{"x": NaN}', "r holds a non-finite number (NaN), which no record has"),
        ("{\n\n nope", "r is not valid JSON (line 3: Expecting property name"),
        ('{"id": "x"}', "r is not a valid investigation record (question: Field required)"),
    ],
)
def test_refusals_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(StoreError) as exc:
        parse_investigation(text, source="r")
    assert str(exc.value).startswith(message)


def test_newer_schema_is_refused() -> None:
    text = json.dumps({"schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(StoreError) as exc:
        parse_investigation(text, source="r")
    assert str(exc.value) == (
        f"r uses schema version {SCHEMA_VERSION + 1}, newer than this version of mai "
        f"(supports up to {SCHEMA_VERSION}): upgrade mai to open it"
    )


def test_nesting_limit_is_exact() -> None:
    deep_ok = "[" * MAX_NESTING + "]" * MAX_NESTING
    with pytest.raises(StoreError) as ok_exc:
        parse_investigation(deep_ok, source="r")
    assert "expected a JSON object" in str(ok_exc.value)  # parsed: just not an object
    too_deep = "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1)
    with pytest.raises(StoreError, match="nested too deeply"):
        parse_investigation(too_deep, source="r")


def test_read_limits(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b"x" * 3 * 2**20)
    with pytest.raises(StoreError) as exc:
        read_record_text(big, limit=2**20)
    assert (
        str(exc.value) == f"{big} is too large for a saved investigation (3 MB; the limit is 1 MB)"
    )
    assert read_record_text(big, limit=3 * 2**20) == "x" * 3 * 2**20
    with pytest.raises(StoreError, match="is a directory, not a saved investigation"):
        read_record_text(tmp_path)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(StoreError, match=r"bin\.json is not a text file"):
        read_record_text(binary)


@pytest.mark.parametrize(
    ("raw", "depth"), [(5, 0), ("x", 0), ([], 1), ({"a": [1, {"b": []}]}, 4), ([[], [[[]]]], 4)]
)
def test_nesting_depth(raw: object, depth: int) -> None:
    assert _nesting(raw) == depth


def test_an_older_record_is_stamped_with_the_current_version() -> None:
    raw = record(RID).model_dump(mode="json")
    for old in (
        {**raw, "schema_version": 0},
        {k: v for k, v in raw.items() if k != "schema_version"},
    ):
        upgraded = parse_investigation(json.dumps(old), source="r")
        assert upgraded.schema_version == SCHEMA_VERSION
        assert upgraded.model_dump(mode="json") == {**raw, "schema_version": SCHEMA_VERSION}


def test_a_record_without_report_is_listed_without_verdict(tmp_path: Path) -> None:
    store = InvestigationStore(tmp_path)
    rec = record(RID)
    rec.report, rec.status = None, "failed"
    store.save(rec)
    [entry] = store.list()
    assert (entry.id, entry.status, entry.direction, entry.verdict) == (RID, "failed", None, None)


def test_an_uncreatable_history_directory_is_named_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    store = InvestigationStore(tmp_path / "file" / "history")
    with pytest.raises(StoreError) as exc:
        store.save(record(RID))
    assert str(exc.value) == f"cannot create {tmp_path / 'file' / 'history'}: Not a directory"


def test_a_saved_record_is_indented_json(tmp_path: Path) -> None:
    rec = record(RID)
    text = dump_investigation(rec)
    assert text.startswith('{\n  "schema_version": 1,\n  "id": "0123456789abcdef')
    assert json.loads(text) == rec.model_dump(mode="json")


def test_a_bad_file_is_named_in_the_refusal(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{nope")
    with pytest.raises(StoreError) as exc:
        load_investigation(path)
    assert str(exc.value).startswith(f"{path} is not valid JSON (line 1: ")


def test_unreadable_paths_are_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    below_a_file = tmp_path / "file" / "inv.json"
    with pytest.raises(StoreError) as exc:
        read_record_text(below_a_file)
    assert str(exc.value) == f"cannot read {below_a_file}: Not a directory"
    with tempfile.TemporaryDirectory(dir="/tmp") as short:  # a socket path must be short
        path = Path(short) / "s.json"
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(path))  # stat() sees it, open() cannot open it
            with pytest.raises(StoreError) as exc:
                read_record_text(path)
    assert str(exc.value) == f"cannot read {path}: No such device or address"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_file_longer_than_its_stated_size_is_refused() -> None:
    # /proc files state a size of 0 bytes but read as more: as if the file grew meanwhile
    with pytest.raises(StoreError) as exc:
        read_record_text(Path("/proc/self/status"), limit=10)
    assert str(exc.value) == "/proc/self/status grew past 0 MB while being read"


def test_replay_events_carry_the_steps_and_report() -> None:
    rec = record(RID)
    events = list(replay_events(rec))
    done = [e.step for e in events if isinstance(e, StepCompleted)]
    failed = [e.step for e in events if isinstance(e, StepFailed)]
    reports = [e.report for e in events if isinstance(e, ReportReady)]
    assert (done, failed, reports) == ([rec.steps[0]], [rec.steps[1]], [rec.report])


def test_an_unreadable_file_does_not_hide_the_records_after_it(tmp_path: Path) -> None:
    store = InvestigationStore(tmp_path)
    (tmp_path / "0-broken.json").write_text("{nope")  # listed first, skipped
    store.save(record(RID))
    assert [e.id for e in store.list()] == [RID]


def test_saving_creates_the_missing_parent_directories(tmp_path: Path) -> None:
    store = InvestigationStore(tmp_path / "a" / "b" / "history")
    path = store.save(record(RID))
    assert path == tmp_path / "a" / "b" / "history" / "2026-01-30T12-00-00_01234567.json"
    assert load_investigation(path) == record(RID)


def test_saving_again_replaces_the_file_holding_the_record(tmp_path: Path) -> None:
    store = InvestigationStore(tmp_path)
    first = store.save(record(RID))
    renamed = first.with_name("renamed_01234567.json")
    first.rename(renamed)
    again = record(RID)
    again.question = "Why did WAU drop?"
    assert store.save(again) == renamed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["renamed_01234567.json"]
    assert store.load(RID).question == "Why did WAU drop?"


@pytest.mark.skipif(not hasattr(os, "fork") or not hasattr(os, "setsid"), reason="needs POSIX")
def test_reading_a_terminal_does_not_make_it_the_controlling_one() -> None:
    """A session leader without a terminal that opens one without O_NOCTTY would take it."""
    master, slave = os.openpty()
    name = os.ttyname(slave)
    os.close(slave)
    with pytest.raises(StoreError, match="is not a regular file"):
        read_record_text(Path(name))  # here too, so per-test coverage links the two
    pid = os.fork()
    if pid == 0:  # the child: a new session, no controlling terminal
        code = 3
        try:
            os.setsid()
            try:
                read_record_text(Path(name))
            except StoreError as exc:
                code = 2 if "is not a regular file" not in str(exc) else 1
            try:
                os.close(os.open("/dev/tty", os.O_RDWR))
            except OSError:
                code = 0 if code == 1 else code  # refused, and still no controlling terminal
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    os.close(master)
    assert os.waitstatus_to_exitcode(status) == 0
