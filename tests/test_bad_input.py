"""Bad input never gives a traceback: exit 2 and one ``mai: error:`` line, or an in-app message.

Also: files the program writes (``--save``, history, ``mai data generate``) are never left
half-written when writing fails part-way.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from byo_worlds import events, write_parquet_dir

from metric_anomaly_investigator.cli import main
from metric_anomaly_investigator.core import store
from metric_anomaly_investigator.core.models import Investigation
from metric_anomaly_investigator.core.store import InvestigationStore, StoreError
from metric_anomaly_investigator.settings import Settings
from metric_anomaly_investigator.tui.app import InvestigatorApp
from metric_anomaly_investigator.warehouse import generator

QUESTION = "Why did DAU drop?"
GENERATE = ["data", "generate", "--scenario", "seed_android_india"]

Setup = Callable[[Path], list[str]]


@pytest.fixture(scope="module")
def good_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_parquet_dir(tmp_path_factory.mktemp("good"), events(users=40, days=21))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def warehouse(make: Callable[[Path], object]) -> Setup:
    """Build a bad warehouse in tmp_path/w and investigate it."""

    def setup(tmp: Path) -> list[str]:
        (tmp / "w").mkdir()
        make(tmp / "w")
        return ["investigate", QUESTION, "-w", str(tmp / "w")]

    return setup


def text_file(name: str, content: bytes) -> Callable[[Path], object]:
    return lambda d: (d / name).write_bytes(content)


def frame(name: str, df: pd.DataFrame) -> Callable[[Path], object]:
    return lambda d: df.to_parquet(d / name)


def replay(content: str) -> Setup:
    def setup(tmp: Path) -> list[str]:
        (tmp / "r.json").write_text(content)
        return ["replay", str(tmp / "r.json")]

    return setup


def with_config(text: str) -> Setup:
    def setup(tmp: Path) -> list[str]:
        write_parquet_dir(tmp / "w", events(users=30, days=14))
        (tmp / "c.toml").write_text(text)
        return ["investigate", QUESTION, "-w", str(tmp / "w"), "--config", str(tmp / "c.toml")]

    return setup


def corrupt_duckdb(tmp: Path) -> list[str]:
    (tmp / "x.duckdb").write_bytes(b"junk" * 300)
    return ["investigate", QUESTION, "-w", str(tmp / "x.duckdb")]


TS = pd.to_datetime(["2025-01-01", "2025-01-02"])
CASES: dict[str, tuple[Setup, str]] = {
    "missing path": (lambda t: ["investigate", QUESTION, "-w", str(t / "nope")], "No such"),
    "empty directory": (warehouse(lambda d: None), "found: nothing"),
    "no events table": (warehouse(text_file("users.csv", b"a,b\n")), "found: users.csv"),
    "no user_id": (
        warehouse(frame("events.parquet", pd.DataFrame({"uid": [1, 2], "event_timestamp": TS}))),
        "lacks column(s) user_id",
    ),
    "no event_timestamp": (
        warehouse(frame("events.parquet", pd.DataFrame({"user_id": [1, 2], "when": TS}))),
        "lacks column(s) event_timestamp",
    ),
    "corrupt duckdb": (corrupt_duckdb, "as a DuckDB database"),
    "garbage csv": (
        warehouse(text_file("events.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00" * 9)),
        "events.csv: not a readable CSV file (",
    ),
    "garbage parquet": (
        warehouse(text_file("events.parquet", b"\x00junk, not parquet" * 40)),
        "events.parquet: not a readable Parquet file (",
    ),
    "text that is not a time": (
        warehouse(text_file("events.csv", b"user_id,event_timestamp\n1,soon\n2,later\n")),
        "not a date/time, e.g. 'later'",
    ),
    "empty parquet folder": (warehouse(lambda d: (d / "events").mkdir()), "without .parquet"),
    "unsupported url": (lambda t: ["investigate", QUESTION, "-w", "foo://x"], "Unsupported"),
    "postgres closed port": (
        lambda t: ["investigate", QUESTION, "-w", f"postgres://u:pw@127.0.0.1:{closed_port()}/d"],
        "Could not connect to 127.0.0.1",
    ),
    "invalid toml": (with_config("[tables\n"), "is not valid TOML"),
    "config names a missing column": (
        with_config('[columns.events]\nuser_id = "uid"\n'),
        "maps to column(s) 'uid'",
    ),
    "max steps 0": (lambda t: ["investigate", QUESTION, "--max-steps", "0"], "--max-steps"),
    "blank question": (lambda t: ["investigate", " \t "], "the question is empty"),
    "unwritable save": (
        lambda t: ["investigate", QUESTION, "--save", "/proc/mai-test.json"],
        "--save /proc/mai-test.json: cannot write",
    ),
    "truncated replay": (replay('{"schema_version": 1, "id": "x", "que'), "not valid JSON"),
    "replay of a list": (replay("[1, 2]"), "expected a JSON object"),
    "replay of another object": (replay('{"foo": 1}'), "not a valid investigation record"),
    "replay of a newer version": (replay('{"schema_version": 99}'), "upgrade mai"),
    "unknown scenario": (
        lambda t: ["data", "generate", "--scenario", "nope", "--out", str(t / "x.duckdb")],
        "Unknown scenario 'nope'",
    ),
    "negative users": (
        lambda t: [*GENERATE, "--users", "-5", "--out", str(t / "x.duckdb")],
        "--users must be at least 1",
    ),
    "negative seed": (
        lambda t: [*GENERATE, "--seed", "-1", "--out", str(t / "x.duckdb")],
        "--seed must be 0 or more",
    ),
    "directory as --out": (
        lambda t: [*GENERATE, "--out", str(t)],
        "is a directory",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup, fragment = CASES[case]
    args = setup(tmp_path)
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    lines = [line for line in err.splitlines() if not line.startswith("model: ")]
    assert len(lines) == 1, err
    assert lines[0].startswith("mai: error: ")
    assert fragment in lines[0]
    assert "pw" not in lines[0] and "Traceback" not in err


# -- atomic writes ------------------------------------------------------------------------------


def test_failed_save_after_the_run_leaves_no_partial_file(
    good_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "out" / "record.json"
    target.parent.mkdir()
    earlier = Investigation(
        id="0" * 32,
        question="earlier",
        model="autopilot",
        warehouse="other.duckdb",
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    previous = store.save_investigation(earlier, target).read_text()

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "replace", disk_full)
    code = main(["investigate", QUESTION, "-w", str(good_dir), "-q", "--save", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and "No space left on device" in err and "Traceback" not in err
    assert [p.name for p in target.parent.iterdir()] == ["record.json"]
    assert target.read_text() == previous


def test_interrupted_history_save_keeps_the_old_record(
    good_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    saved = tmp_path / "r.json"
    assert main(["investigate", QUESTION, "-w", str(good_dir), "-q", "--save", str(saved)]) == 0
    capsys.readouterr()
    history = InvestigationStore(tmp_path / "history")
    record = store.load_investigation(saved)
    path = history.save(record)
    before = path.read_bytes()

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(store.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        history.save(record.model_copy(update={"question": "changed"}))
    assert path.read_bytes() == before
    assert [p.name for p in history.directory.iterdir()] == [path.name]


def test_data_generate_failing_mid_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_write = generator._write

    def write_then_fail(*args: object) -> None:
        real_write(*args)  # type: ignore[arg-type]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(generator, "_write", write_then_fail)
    out_dir = tmp_path / "out"  # (the data directory, where DuckDB may spill, is elsewhere)
    out_dir.mkdir()
    args = ["data", "generate", "--scenario", "seed_android_india", "--users", "50"]
    code = main([*args, "--days", "14", "-q", "--out", str(out_dir / "world.duckdb")])
    err = capsys.readouterr().err
    assert code == 2 and "Could not write" in err and "No space left" in err
    assert list(out_dir.iterdir()) == []


def test_history_directory_that_is_a_file_is_a_store_error(tmp_path: Path) -> None:
    history = InvestigationStore(tmp_path / "file-not-dir")
    (tmp_path / "file-not-dir").write_text("x")
    record = store.parse_investigation(
        '{"id": "a", "question": "q", "model": "m", "warehouse": "w", '
        '"started_at": "2025-01-01T00:00:00Z"}'
    )
    with pytest.raises(StoreError):
        history.save(record)


# -- the TUI on real warehouses -----------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def real_app(tmp_path: Path, source: Path) -> InvestigatorApp:
    settings = Settings(data_dir=tmp_path / "data", model="autopilot")
    return InvestigatorApp(warehouse=str(source), settings=settings, theme="textual-dark")


@pytest.mark.anyio
async def test_tui_shows_a_bad_warehouse_in_the_app(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "users.csv").write_text("user_id\n1\n")
    app = real_app(tmp_path, tmp_path / "w")
    async with app.run_test(size=(120, 36)) as pilot:
        await app.workers.wait_for_complete()
        for _ in range(200):  # the worker's WarehouseFailed message is handled on the app's loop
            if app.main.welcome.has_class("-error"):
                break
            await pilot.pause(0.05)
        assert app.warehouse is None
        assert app.main.welcome.has_class("-error")
        messages = [n.message for n in app._notifications]
        assert any("has no events table" in m and "users.csv" in m for m in messages)


@pytest.mark.anyio
async def test_tui_investigates_a_byo_warehouse(tmp_path: Path, good_dir: Path) -> None:
    app = real_app(tmp_path, good_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        # The warehouse opens in a worker started after the first refresh: poll, bounded.
        for _ in range(600):
            if app.warehouse is not None:
                break
            await pilot.pause(0.05)
        assert app.warehouse is not None
        assert "market" in app.warehouse.schema.dimension_names
        app.main.question.focus()
        app.main.question.value = QUESTION
        await pilot.press("enter")
        for _ in range(1200):
            current = app.session.current if app.session is not None else None
            if current is not None and current.status != "running":
                break
            await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.session is not None and app.session.current is not None
        assert app.session.current.status == "completed"
        assert app.session.report is not None
