"""Writes that cannot destroy: every write path refuses the warehouse's files, its config and
files that are not its own kind; replaced files keep their mode; unknown fields survive.

The write paths: ``mai investigate --save``, ``--continue`` (saved back), ``mai data generate
--out``, and the TUI's Ctrl+S (``save_investigation``) and Ctrl+E (``write_export``). Every input
file's checksum is compared before and after the whole module.
"""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from byo_worlds import write_parquet_dir

from metric_anomaly_investigator.cli import main
from metric_anomaly_investigator.core.models import Investigation
from metric_anomaly_investigator.core.report_markdown import report_to_markdown, write_export
from metric_anomaly_investigator.core.safe_write import UnsafeWriteError
from metric_anomaly_investigator.core.store import (
    StoreError,
    load_investigation,
    save_investigation,
)

QUESTION = "Why did DAU drop?"
CONFIG_TEXT = '[tables]\nevents = "events"\n'


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def checksums(paths: list[Path]) -> dict[Path, str]:
    files = [p for root in paths for p in ([root] if root.is_file() else sorted(root.rglob("*")))]
    return {p: digest(p) for p in files if p.is_file()}


@pytest.fixture(scope="module")
def inputs(
    small_world_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    """The DuckDB world, a Parquet directory world and a config file; unchanged at the end."""
    root = tmp_path_factory.mktemp("inputs")
    config = root / "mapping.toml"
    config.write_text(CONFIG_TEXT)
    paths = {
        "duckdb": small_world_path,
        "parquet": write_parquet_dir(root / "pq"),
        "config": config,
    }
    before = checksums(list(paths.values()))
    yield paths
    assert checksums(list(paths.values())) == before


@pytest.fixture(scope="module")
def saved(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real record saved by ``mai investigate --save`` (3 steps)."""
    path = tmp_path_factory.mktemp("saved") / "run.json"
    args = ["investigate", QUESTION, "-w", str(inputs["duckdb"]), "--max-steps", "3", "-q"]
    assert main([*args, "--save", str(path)]) == 0
    return path


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


def assert_refused(code: int, err: str, fragment: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("mai: error: ") and fragment in lines[-1], err
    assert "Traceback" not in err


# -- mai investigate --save ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("warehouse", "target"),
    [
        ("duckdb", lambda i: i["duckdb"]),
        ("duckdb", lambda i: i["duckdb"].with_name(i["duckdb"].name + ".wal")),
        ("duckdb", lambda i: i["config"]),
        ("parquet", lambda i: i["parquet"] / "events.parquet"),
        ("parquet", lambda i: i["parquet"] / "new-record.json"),
        ("parquet", lambda i: i["parquet"]),
        ("parquet", lambda i: i["config"]),
    ],
    ids=["duckdb", "wal", "config", "parquet-file", "new-file-in-dir", "parquet-dir", "config2"],
)
def test_save_onto_the_warehouse_or_config_is_refused(
    inputs: dict[str, Path], warehouse: str, target: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path: Path = target(inputs)
    args = [
        "investigate",
        QUESTION,
        "-w",
        str(inputs[warehouse]),
        "--config",
        str(inputs["config"]),
    ]
    code, err = run_cli([*args, "--save", str(path), "-q"], capsys)
    assert_refused(code, err, "it is part of the warehouse or config being read")
    assert not (inputs["parquet"] / "new-record.json").exists()


def test_save_onto_a_file_that_is_not_a_record_is_refused(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.json"
    notes.write_text('{"shopping": ["milk"]}')
    code, err = run_cli(
        ["investigate", QUESTION, "-w", str(inputs["duckdb"]), "--save", str(notes)], capsys
    )
    assert_refused(code, err, "is not a saved investigation")
    assert notes.read_text() == '{"shopping": ["milk"]}'


def test_save_through_a_symlink_keeps_the_link(
    saved: Path, inputs: dict[str, Path], tmp_path: Path
) -> None:
    real = tmp_path / "real.json"
    real.write_bytes(saved.read_bytes())
    link = tmp_path / "link.json"
    link.symlink_to(real)
    args = ["investigate", QUESTION, "-w", str(inputs["duckdb"]), "--max-steps", "2", "-q"]
    assert main([*args, "--save", str(link)]) == 0
    assert link.is_symlink()
    assert load_investigation(real).id != load_investigation(saved).id  # written through it


def test_a_symlink_into_the_warehouse_is_refused(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "innocent.json"
    link.symlink_to(inputs["duckdb"])
    code, err = run_cli(
        ["investigate", QUESTION, "-w", str(inputs["duckdb"]), "--save", str(link)], capsys
    )
    assert_refused(code, err, "part of the warehouse")


# -- --continue ---------------------------------------------------------------------------------


def test_continue_keeps_unknown_fields_and_the_file_mode(
    saved: Path, inputs: dict[str, Path], tmp_path: Path
) -> None:
    raw = json.loads(saved.read_text())
    raw["x_team"] = {"owner": "growth", "tags": ["q1"]}
    raw["steps"][0]["x_note"] = "checked by hand"
    raw["usage"]["x_budget"] = 3
    path = tmp_path / "annotated.json"
    path.write_text(json.dumps(raw))
    path.chmod(0o640)
    args = ["investigate", "Is it only on android?", "--continue", str(path), "-q"]
    assert main([*args, "-w", str(inputs["duckdb"]), "--max-steps", "2"]) == 0
    after = json.loads(path.read_text())
    assert after["x_team"] == {"owner": "growth", "tags": ["q1"]}
    assert after["steps"][0]["x_note"] == "checked by hand"
    assert after["usage"]["x_budget"] == 3
    assert [f["question"] for f in after["follow_ups"]] == ["Is it only on android?"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_new_record_gets_the_usual_file_mode(saved: Path) -> None:
    assert stat.S_IMODE(saved.stat().st_mode) & 0o044 == 0o044  # readable like any new file


def test_continue_cannot_save_onto_the_warehouse(
    saved: Path, inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_cli(
        [
            *("investigate", "and then?", "--continue", str(saved)),
            *("-w", str(inputs["parquet"]), "--save", str(inputs["parquet"] / "users.csv")),
        ],
        capsys,
    )
    assert_refused(code, err, "part of the warehouse")
    assert not (inputs["parquet"] / "users.csv").exists()


# -- mai data generate --out --------------------------------------------------------------------


def generate(out: Path, *extra: str) -> list[str]:
    return [
        *("data", "generate", "--scenario", "seed_android_india", "--out", str(out)),
        *("--users", "200", "--days", "30", "-q", *extra),
    ]


def test_generate_refuses_an_existing_file_without_force(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "world.duckdb"
    existing.write_bytes(inputs["duckdb"].read_bytes())
    before = digest(existing)
    code, err = run_cli(generate(existing), capsys)
    assert_refused(code, err, "already exists: add --force")
    assert digest(existing) == before

    existing.chmod(0o600)
    code, err = run_cli(generate(existing, "--force"), capsys)
    assert code == 0, err
    assert digest(existing) != before
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600


def test_generate_never_replaces_a_file_that_is_not_a_duckdb_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.duckdb"
    notes.write_text("my notes")
    for extra in ((), ("--force",)):  # --force or not: never 'add --force' for such a file
        code, err = run_cli(generate(notes, *extra), capsys)
        assert_refused(code, err, "is not a DuckDB file")
    assert notes.read_text() == "my notes"


# -- the TUI's Ctrl+S and Ctrl+E ----------------------------------------------------------------


def test_tui_save_and_export_refuse_the_warehouse_and_foreign_files(
    saved: Path, inputs: dict[str, Path], tmp_path: Path
) -> None:
    record = load_investigation(saved).model_copy(update={"warehouse": str(inputs["parquet"])})
    for target in (inputs["parquet"] / "events.parquet", inputs["parquet"] / "report.md"):
        with pytest.raises(StoreError, match="part of the warehouse"):
            save_investigation(record, target)
        with pytest.raises(UnsafeWriteError, match="part of the warehouse"):
            write_export(target, report_to_markdown(record), warehouse=record.warehouse)
    readme = tmp_path / "README.md"
    readme.write_text("# My project\n\nnot a report\n")
    with pytest.raises(UnsafeWriteError, match="not a Markdown report exported by mai"):
        write_export(readme, report_to_markdown(record), warehouse=record.warehouse)
    assert readme.read_text() == "# My project\n\nnot a report\n"


def test_tui_export_replaces_an_earlier_export_keeping_its_mode(
    saved: Path, tmp_path: Path
) -> None:
    record = load_investigation(saved)
    path = tmp_path / "report.md"
    write_export(path, report_to_markdown(record), warehouse=record.warehouse)
    path.chmod(0o604)
    renamed = record.model_copy(update={"question": "Why did signups fall?"})
    write_export(path, report_to_markdown(renamed), warehouse=record.warehouse)
    assert path.read_text().startswith("# Why did signups fall?\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o604


def test_saving_onto_a_fifo_or_directory_is_refused(saved: Path, tmp_path: Path) -> None:
    import os

    record: Investigation = load_investigation(saved)
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(StoreError, match="not a regular file"):
        save_investigation(record, fifo)
    with pytest.raises(StoreError, match="is a directory"):
        save_investigation(record, tmp_path)


# -- the TUI dialogs, end to end ----------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_tui_dialogs_refuse_a_foreign_file_with_a_message(tmp_path: Path) -> None:
    from textual.widgets import Input
    from tui_fakes import make_app

    from metric_anomaly_investigator.tui.screens.dialogs import PromptScreen

    readme = tmp_path / "README.md"
    readme.write_text("# My project\n")
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.workers.wait_for_complete()
        app.main.question.focus()
        app.main.question.value = QUESTION
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        for key in ("ctrl+s", "ctrl+e"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, PromptScreen)
            app.screen.query_one(Input).value = str(readme)
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
        refusals = [n.message for n in app._notifications if "Could not write" in (n.title or "")]
    assert len(refusals) == 2
    assert all("refusing to overwrite" in message for message in refusals)
    assert readme.read_text() == "# My project\n"
