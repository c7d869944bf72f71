"""The ``mai`` command line, in-process (``main([...])``) and once as a real subprocess."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from metric_anomaly_investigator.cli import main
from metric_anomaly_investigator.core.models import Investigation
from metric_anomaly_investigator.core.store import load_investigation, save_investigation

QUESTION = "Why did DAU drop?"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("MAI_MODEL", "MAI_WAREHOUSE", "MAI_MAX_STEPS", "MAI_MAX_REQUESTS"):
        monkeypatch.delenv(name, raising=False)
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAI_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture(scope="module")
def json_run(small_world_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One headless autopilot investigation with --json and --save, shared by several tests."""
    save = tmp_path_factory.mktemp("saved") / "record.json"
    out, err = io.StringIO(), io.StringIO()  # capsys is function-scoped
    with pytest.MonkeyPatch.context() as mp:
        for name in ("MAI_MODEL", "ANTHROPIC_API_KEY", "MAI_MAX_STEPS", "MAI_MAX_REQUESTS"):
            mp.delenv(name, raising=False)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(
                [
                    *("investigate", QUESTION, "--warehouse", str(small_world_path)),
                    *("--json", "--save", str(save)),
                ]
            )
    return {"code": code, "out": out.getvalue(), "err": err.getvalue(), "save": save}


def assert_usage_error(code: int, err: str, fragment: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mai: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in err


def test_investigate_json_prints_exactly_one_record(json_run: dict[str, Any]) -> None:
    assert json_run["code"] == 0, json_run["err"]
    record = Investigation.model_validate_json(json_run["out"])
    assert json.loads(json_run["out"])["schema_version"] == 1
    assert record.status == "completed" and record.model == "autopilot"
    assert record.question == QUESTION and record.steps and record.report is not None
    assert record.usage.cost_usd == 0.0
    assert "model: autopilot" in json_run["err"]
    assert "[1] " in json_run["err"]


def test_investigate_save_writes_the_same_record(json_run: dict[str, Any]) -> None:
    saved = load_investigation(json_run["save"])
    assert saved == Investigation.model_validate_json(json_run["out"])


def test_investigate_markdown_and_text(
    small_world_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            *("investigate", QUESTION, "-w", str(small_world_path)),
            *("--markdown", "--quiet", "--max-steps", "3"),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith(f"# {QUESTION}\n")
    assert "## Summary" in out and "## Steps" in out and "1. **" in out
    assert err.strip() == "model: autopilot"

    code = main(["investigate", QUESTION, "-w", str(small_world_path), "--max-steps", "2"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "Root cause:" in out and "Anomaly:" in out
    assert "  [1] detect_anomaly: " in err and "report ready" in err


def test_failed_investigation_exits_1(
    small_world_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAI_MAX_REQUESTS", "2")
    code = main(["investigate", QUESTION, "-w", str(small_world_path), "--json", "-q"])
    out, err = capsys.readouterr()
    assert code == 1
    record = Investigation.model_validate_json(out)
    assert record.status == "failed" and len(record.steps) == 2
    assert "mai: investigation failed: usage limit reached" in err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["investigate", "   "], "the question is empty"),
        (["investigate", QUESTION, "-w", "/no/such/warehouse.duckdb"], "/no/such/warehouse"),
        (["investigate", QUESTION, "-m", "anthropic:claude-sonnet-4-5"], "ANTHROPIC_API_KEY"),
        (["investigate", QUESTION, "-m", "nonsense"], "Unknown model: nonsense"),
        (["investigate", QUESTION, "--save", "/no/such/dir/x.json"], "does not exist"),
        (["investigate", QUESTION, "--max-steps", "0"], "invalid --max-steps"),
        (["investigate", QUESTION, "--max-steps", "x"], "invalid int value"),
        (["investigate", QUESTION, "--json", "--markdown"], "not allowed with"),
        (["investigate", QUESTION, "--config", "/no/such.toml"], "config file not found"),
        (["--model", "openai:gpt-5"], "OPENAI_API_KEY is not set"),
        (["replay", "/no/such/file.json"], "no such file"),
        (["data", "generate", "--scenario", "nope", "--out", "x.duckdb"], "Unknown scenario"),
        (["data"], "required"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(args)
    _, err = capsys.readouterr()
    assert_usage_error(code, err, fragment)


def test_bad_environment_setting_is_reported(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAI_MAX_STEPS", "lots")
    code = main(["investigate", QUESTION])
    assert_usage_error(code, capsys.readouterr().err, "invalid MAI_MAX_STEPS")


def test_replay_refuses_a_corrupt_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 7}')
    code = main(["replay", str(bad)])
    assert_usage_error(code, capsys.readouterr().err, "schema version 7")


class RecordingTui:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


@pytest.fixture
def tui(monkeypatch: pytest.MonkeyPatch) -> RecordingTui:
    import metric_anomaly_investigator.tui.app as app

    recorder = RecordingTui()
    monkeypatch.setattr(app, "run_tui", recorder)
    return recorder


def test_default_command_starts_the_tui(tui: RecordingTui) -> None:
    assert main([]) == 0
    assert main(["-w", "x.duckdb", "-m", "autopilot"]) == 0
    assert tui.calls == [
        {"warehouse": None, "model": None, "config": None},  # the app resolves the settings
        {"warehouse": "x.duckdb", "model": "autopilot", "config": None},
    ]


def test_replay_starts_the_tui_with_the_file(
    tui: RecordingTui, tmp_path: Path, json_run: dict[str, Any]
) -> None:
    path = tmp_path / "ok.json"
    save_investigation(load_investigation(json_run["save"]), path)
    assert main(["replay", str(path)]) == 0
    assert tui.calls == [{"replay": path}]


def test_serve_runs_the_tui_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import textual_serve.server

    started: list[tuple[str, str, int]] = []

    class FakeServer:
        def __init__(self, command: str, host: str, port: int, title: str) -> None:
            started.append((command, host, port))

        def serve(self) -> None:
            pass

    monkeypatch.setattr(textual_serve.server, "Server", FakeServer)
    assert main(["serve", "--port", "8123", "-m", "autopilot"]) == 0
    command, host, port = started[0]
    assert command.endswith("-m metric_anomaly_investigator --model autopilot")
    assert (host, port) == ("127.0.0.1", 8123)


def test_data_scenarios_lists_names_without_truth(capsys: pytest.CaptureFixture[str]) -> None:
    from metric_anomaly_investigator.warehouse.scenarios import list_scenarios

    assert main(["data", "scenarios"]) == 0
    out = capsys.readouterr().out
    for scenario in list_scenarios():
        assert scenario.name in out and scenario.title in out and scenario.description in out


def test_data_generate_writes_a_world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_path = tmp_path / "tiny.duckdb"
    code = main(
        [
            *("data", "generate", "--scenario", "seed_android_india", "--out", str(out_path)),
            *("--users", "300", "--days", "35", "--seed", "3"),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.strip() == str(out_path) and out_path.is_file()
    assert "%" in err


def test_cli_import_is_light() -> None:
    code = (
        "import sys, metric_anomaly_investigator.cli as c; "
        "heavy = [m for m in ('pydantic_ai', 'ibis', 'duckdb', 'textual', 'scipy') "
        "if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_console_script_investigate_json(small_world_path: Path, tmp_path: Path) -> None:
    mai = Path(sys.executable).with_name("mai")
    env = {"PATH": str(mai.parent), "MAI_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    result = subprocess.run(
        [str(mai), "investigate", QUESTION, "--warehouse", str(small_world_path), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    record = Investigation.model_validate_json(result.stdout)
    assert record.status == "completed" and record.report is not None
    assert "model: autopilot" in result.stderr and "Traceback" not in result.stderr


def test_continue_asks_a_follow_up_and_saves_it_back(
    json_run: dict[str, Any],
    small_world_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "record.json"
    save_investigation(load_investigation(json_run["save"]), path)
    question = "Is the drop also visible in events per user?"
    code = main(
        [
            *("investigate", question, "--continue", str(path)),
            *("--warehouse", str(small_world_path), "--json", "--quiet"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    root = Investigation.model_validate_json(out)
    assert [f.question for f in root.follow_ups] == [question]
    follow_up = root.follow_ups[0]
    assert follow_up.status == "completed" and follow_up.report is not None
    assert follow_up.steps[0].index > root.steps[-1].index  # numbering continues
    assert load_investigation(path) == root


def test_continue_refuses_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code = main(["investigate", "and then?", "--continue", str(bad)])
    assert_usage_error(code, capsys.readouterr().err, "bad.json")


def test_escape_bytes_in_data_never_reach_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from byo_worlds import events, write_parquet_dir

    ev = events()
    ev["market"] = ev["market"].replace({"JP": "\x1b[31mJP"})  # the planted segment's value
    world = write_parquet_dir(tmp_path / "pq", ev)
    for fmt in ("--markdown", None):
        args = ["investigate", "Why did DAU drop?", "-w", str(world)]
        code = main([*args, fmt] if fmt else args)
        out, err = capsys.readouterr()
        assert code == 0, err
        for text in (out, err):
            assert "\x1b" not in text
        assert "market=\\x1b[31mJP" in out
        assert "\\x1b[31mJP" in err  # the progress lines name the segment too


def test_escape_bytes_in_event_types_never_reach_the_terminal_in_data_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from byo_worlds import events, write_parquet_dir

    ev = events()
    ev["event_type"] = ev["event_type"].replace({"click": "\x1b]0;pwned\x07click"})
    world = write_parquet_dir(tmp_path / "pq", ev)
    assert main(["data", "metrics", "-w", str(world)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert 'where = {event_type = "\\x1b]0;pwned\\x07click"}' in out


def test_continue_with_another_question_closes_an_interrupted_run(
    json_run: dict[str, Any], small_world_path: Path, tmp_path: Path
) -> None:
    killed = load_investigation(json_run["save"])
    killed.steps, killed.report = killed.steps[:2], None
    killed.status, killed.finished_at = "running", None  # as a checkpoint left it
    path = save_investigation(killed, tmp_path / "killed.json")
    question = "Is it only on android?"
    args = ["investigate", question, "--continue", str(path), "-w", str(small_world_path)]
    assert main([*args, "-q", "--max-steps", "2"]) == 0
    root = load_investigation(path)
    assert root.status == "cancelled" and root.steps == killed.steps
    assert root.error == "interrupted after 2 steps, before a report"
    assert [f.question for f in root.follow_ups] == [question]
    assert root.follow_ups[0].steps[0].index == 3


def test_continue_finishes_an_interrupted_run_even_with_an_edited_step(
    json_run: dict[str, Any], small_world_path: Path, tmp_path: Path
) -> None:
    killed = load_investigation(json_run["save"])
    killed.steps, killed.report = killed.steps[:2], None
    killed.status, killed.finished_at = "running", None
    killed.steps[0].parameters["not_a_parameter"] = 1  # cannot be re-run: not reused
    path = save_investigation(killed, tmp_path / "killed.json")
    args = ["investigate", QUESTION, "--continue", str(path), "-w", str(small_world_path)]
    assert main([*args, "-q"]) == 0
    root = load_investigation(path)
    assert root.status == "completed" and root.report is not None and root.follow_ups == []
    assert root.steps[:2] == killed.steps and len(root.steps) > 2
